"""Opening a page session from a link, and preparing it.

Resolving spends the link, so the session is saved (and its cookie set) right after; what
the pages need next (the business line's settings with the contract template's override
over them, the contracts signed together) is filled in by ``prepare``, which a later visit
repeats if a service failed the first time.
"""
from __future__ import annotations

import time

from gateway.pages.links import Link
from gateway.pages.page_config import page_config
from gateway.pages.parts import Parts
from gateway.pages.rpc import Client
from gateway.pages.sessions import PageSession, digest
from gateway.pages.signing_state import app_settings, signed_together, template_page


def new_session(parts: Parts, token: str, link: Link, lang: str) -> PageSession:
    sid, csrf = parts.sessions.new_ids()
    return PageSession(
        sid=sid, token_hash=digest(token), csrf=csrf, created=time.time(), contract_id=link.contract_id,
        signer_id=link.signer_id, app_id=link.app_id, source=link.source, scene=link.scene, sign_mode="",
        contract_ids=[], config=page_config({}, link.redirect_url).to_mapping(), policy={}, lang=lang,
        redirect_url=link.redirect_url,
    )


def prepared(session: PageSession) -> bool:
    return bool(session.contract_ids)


async def prepare(parts: Parts, session: PageSession, client: Client) -> None:
    settings = await app_settings(parts.rpc, session.app_id, client)
    link = Link(session.contract_id, session.signer_id, session.app_id, session.source, session.scene,
                session.redirect_url)
    together = await signed_together(parts.rpc, link, client)
    override = await template_page(parts.rpc, session.app_id, together.template_id, client)
    session.sign_mode, session.contract_ids = together.sign_mode, together.contract_ids
    session.config = page_config(settings.signing_page, session.redirect_url, override).to_mapping()
    session.policy = settings.intent_policy
