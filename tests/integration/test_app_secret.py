"""An app's secret is shown once, by ``econtract apps create``, and nowhere else: not in its
database row, not in any log, not in a trace."""
import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from services.identity.store import AppRow
from tests.support.signed import SignedClient

ROOT = Path(__file__).resolve().parents[2]


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))]


def _contains(value, forms: list[bytes]) -> bool:
    data = value if isinstance(value, bytes) else str(value).encode()
    return any(form in data for form in forms)


def test_the_app_secret_is_stored_encrypted_and_never_logged_or_traced(mesh, caplog):
    caplog.set_level(logging.DEBUG)
    created = subprocess.run([sys.executable, "-m", "core.cli", "apps", "create", "--name", "secretive",
                              "--scopes", "app:self"], cwd=ROOT, env={**os.environ, **mesh.env},
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    secret = app["appSecret"]
    forms = _forms(secret)
    assert len(secret) >= 32 and not _contains(created.stderr, forms)

    with mesh.contexts["identity"].engine.connect() as conn:
        row = conn.execute(sa.select(AppRow.__table__).where(AppRow.app_id == app["appId"])).one()
    assert row.name == "secretive"
    assert not [column for column, value in row._mapping.items() if _contains(value, forms)]
    assert len(row.secret_ciphertext) >= len(secret)  # a ciphertext, not an empty placeholder

    # The secret still works: the identity service recovers it to check a signature.
    reply = SignedClient(mesh.base_url, app["appId"], secret).get("/v1/apps/self")
    assert reply.status_code == 200 and reply.json()["appId"] == app["appId"]
    assert not _contains(reply.text, forms)
    assert not _contains(caplog.text, forms)
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    spans = [s for s in mesh.exporter.get_finished_spans() if s.context.trace_id == trace_id]
    assert spans and not _contains(repr([(s.name, dict(s.attributes or {}), s.events) for s in spans]), forms)
