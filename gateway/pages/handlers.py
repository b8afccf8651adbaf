"""Thin HTTP handlers of the signing pages: find the page session, run the step or the
form, answer with a page, a redirect or an image. Every failure goes through
``problems.problem_of`` and is shown as a page, never as a trace."""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import grpc
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.pages import links
from gateway.pages.catalogue import LANGUAGES, language, texts
from gateway.pages.forms import FORMS, Posted
from gateway.pages.headers import page_headers
from gateway.pages.opening import new_session, prepare, prepared
from gateway.pages.page_config import DEFAULT_THEME, PageConfig
from gateway.pages.parts import Parts
from gateway.pages.problems import PageRefusal, Problem, problem_of
from gateway.pages.redirects import origin
from gateway.pages.render import Renderer
from gateway.pages.rpc import Client
from gateway.pages.sessions import COOKIE, PageSession, session_cookie
from gateway.pages.signing_state import SigningState, signing_state
from gateway.pages.steps import Step, check_signable, current_step, steps_of
from gateway.pages.views import VIEWS, View, done_view

MAX_FORM = 12 * 1024 * 1024  # a handwriting PNG or a face photo, base64 in a form field
_COLOUR = re.compile(r"^[0-9a-f]{6}$")


def _client(request: Request) -> Client:
    return Client(request.client.host if request.client else "", request.headers.get("user-agent", ""))


async def _read_form(request: Request) -> dict[str, str]:
    """The urlencoded fields of a page's form (the pages post no files), bounded in size and number."""
    too_big = PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT, http=413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            raise too_big
        chunks.append(chunk)
    try:
        return dict(parse_qsl(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20))
    except ValueError:
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT) from None


def _not_a_visit(request: Request) -> bool:
    """HEAD and prefetch requests (link previews, speculative loads) that must not spend the link."""
    purpose = request.headers.get("sec-purpose", "") + request.headers.get("purpose", "")
    return request.method == "HEAD" or "prefetch" in purpose.lower()


class Handlers:
    def __init__(self, parts: Callable[[], Parts], renderer: Renderer):
        self._parts = parts  # made when the gateway starts
        self._renderer = renderer

    # -- pages ------------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        """The link itself: open (or resume) the page session and show the current step."""
        parts, token, client = self._parts(), request.path_params["token"], _client(request)
        asked = request.query_params.get("lang")
        session = await parts.sessions.find(request.cookies.get(COOKIE), token)
        fresh = session is None
        if session is None and _not_a_visit(request):
            return Response(status_code=204)  # a one-time link is spent only by a signer opening it
        if session is None:
            try:
                link = await links.resolve(parts.rpc, token, client)
            except Exception as exc:  # noqa: BLE001 - the one error path: a friendly page
                return self.problem_page(problem_of(exc), language(asked), base=f"/sign/{token}")
            session = new_session(parts, token, link, language(asked))
        elif asked:
            session.lang = language(asked, session.lang)
        before = session.to_json()
        embedded = session.scene == "HEADLESS"
        if fresh and not embedded and request.headers.get("sec-fetch-site") == "cross-site":
            response = self._bounce(session)
        else:
            response = await self._page(session, token, client)
        if fresh or session.to_json() != before:
            await parts.sessions.save(session)
        if fresh:
            response.headers.append("set-cookie", session_cookie(
                session.sid, f"/sign/{token}", parts.config.max_seconds, embedded=embedded,
                secure=parts.secure_cookies))
        return response

    async def post(self, request: Request) -> Response:
        """A form of the current step; success goes back to the link's page (POST-redirect-GET)."""
        parts, token, client = self._parts(), request.path_params["token"], _client(request)
        handler = FORMS.get(request.path_params["action"])
        sid, base = request.cookies.get(COOKIE), f"/sign/{token}"
        session = await parts.sessions.find(sid, token)
        if session is None:
            return self.problem_page(Problem("session.gone", 410, "session.gone.body"), language(None), base=base)
        if handler is None:
            return self.problem_page(Problem("error.not_found_page", 404), session.lang, session, base)
        try:
            form = await _read_form(request)
        except PageRefusal as exc:
            return await self._page(session, token, client, problem_of(exc))
        if not session.csrf_matches(form.get("csrf", "")):
            return await self._page(session, token, client, Problem("session.stale", 403))
        error = None
        try:
            async with parts.sessions.lock(session):
                session = await parts.sessions.find(sid, token) or session  # the latest, now nothing else runs
                try:
                    await handler(Posted(parts, session, form, client, time.time()))
                except Exception as exc:  # noqa: BLE001 - shown next to the form
                    error = problem_of(exc)
                await parts.sessions.save(session)
        except PageRefusal as busy:
            error = problem_of(busy)
        if error is not None:
            return await self._page(session, token, client, error)
        return RedirectResponse(base, status_code=303)

    async def image(self, request: Request) -> Response:
        """One page of a document the session shows, as PNG."""
        parts, token, client = self._parts(), request.path_params["token"], _client(request)
        session = await parts.sessions.find(request.cookies.get(COOKIE), token)
        contract_id, sha256 = request.path_params["contract_id"], request.path_params["sha256"]
        png = None
        if session is not None and contract_id in session.contract_ids and re.fullmatch(r"[0-9a-f]{64}", sha256):
            try:
                png = await parts.images.image(session.app_id, contract_id, sha256, request.path_params["page"], client)
            except Exception as exc:  # noqa: BLE001 - an image has no page to show the problem on
                return Response(status_code=problem_of(exc).status)
        if png is None:
            return Response(status_code=404)
        # The URL names the exact revision (its SHA-256), so the browser may keep it privately.
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=600"})

    async def theme(self, request: Request) -> Response:
        """The business line's colour as a CSS variable (the CSP allows no inline style)."""
        colour = request.path_params["colour"]
        if not _COLOUR.match(colour):
            colour = DEFAULT_THEME
        return Response(f":root{{--theme:#{colour}}}\n", media_type="text/css",
                        headers={"cache-control": "public, max-age=86400"})

    # -- rendering ------------------------------------------------------------------------

    async def _state(self, session: PageSession, client: Client) -> SigningState:
        try:
            state = await signing_state(self._parts().rpc, session.app_id, session.signer_id, session.contract_ids,
                                        client)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                raise PageRefusal("contract.closed", http=410, detail=exc.details() or "") from None
            raise
        check_signable(state)
        return state

    async def _page(self, session: PageSession, token: str, client: Client, error: Problem | None = None) -> Response:
        parts, now = self._parts(), time.time()
        try:
            if not prepared(session):
                await prepare(parts, session, client)
            state = None if session.outcome else await self._state(session, client)
            step = current_step(session, state, now)
            if step is Step.DONE:
                view: View = done_view(session)
            else:
                view = await VIEWS[step](parts, session, state, client, now)
        except Exception as exc:  # noqa: BLE001 - the one error path: a friendly page
            return self.problem_page(problem_of(exc), session.lang, session, f"/sign/{token}")
        if view.redirect:
            return RedirectResponse(view.redirect, status_code=303)
        values = {**self._frame(session.lang, session), **view.values, "base": f"/sign/{token}", "csrf": session.csrf,
                  "step": step.value, "steps": [s.value for s in steps_of(session.sign_mode)],
                  "signer_name": state.signer.name if state else "", "error": error}
        return self._renderer.render(view.template, values, status=error.status if error else 200,
                                     headers=self._headers(session))

    def _bounce(self, session: PageSession) -> Response:
        """Arrived from another site (a link on the business line's page): reload once from
        here, so that the browser counts later loads of the page as same-site and sends the
        SameSite=Strict cookie with them (else a reload would find the link already spent)."""
        return self._renderer.render("bounce.html", self._frame(session.lang, session), headers=self._headers(session))

    def problem_page(self, problem: Problem, lang: str, session: PageSession | None = None, base: str = "") -> Response:
        values = {**self._frame(lang, session), "problem": problem, "base": base}
        return self._renderer.render("problem.html", values, status=problem.status, headers=self._headers(session))

    @staticmethod
    def _frame(lang: str, session: PageSession | None) -> dict:
        config = PageConfig.from_mapping(session.config) if session else PageConfig()
        return {
            "t": texts(lang),
            "lang": lang,
            "other_lang": next(code for code in LANGUAGES if code != lang),
            "headless": bool(session) and session.scene == "HEADLESS",
            "h5": bool(session) and session.source == "H5",
            "theme": config.theme,
        }

    @staticmethod
    def _headers(session: PageSession | None) -> dict[str, str]:
        if session is None:
            return page_headers()
        config = PageConfig.from_mapping(session.config)
        return page_headers(headless=session.scene == "HEADLESS", redirect_origin=origin(config.redirect_url),
                            frame_ancestors=config.frame_ancestors)
