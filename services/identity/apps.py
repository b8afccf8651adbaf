"""Business-line apps: credentials, scopes, request-signature checks."""
from __future__ import annotations

import base64
import hmac
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from core.errors import InvalidArgument, NotFound, Unauthenticated, invalid
from core.masterkey import MasterKey
from core.origins import MAX_ORIGINS, is_origin
from services.identity.store import AppRow

SCOPES = (
    "template:read",
    "template:write",
    "template:review",
    "contract:read",
    "contract:write",
    "identity:verify",
    "intent:write",
    "seal:read",
    "seal:write",
    "document:verify",
    "app:self",
    "dev:outbox",
)
# A new app may do everything a business line normally does; reviewing templates is granted on purpose.
DEFAULT_SCOPES = tuple(s for s in SCOPES if s not in ("template:review", "dev:outbox"))
# Seal styles a business line may choose as its default, per kind of signer (signing's Seal.Style names).
SEAL_STYLES = {"company": ("ROUND_COMPANY", "OVAL_COMPANY"), "personal": ("SQUARE_PERSONAL", "RECTANGULAR_PERSONAL")}


@dataclass(frozen=True)
class App:
    app_id: str
    name: str
    scopes: tuple[str, ...]
    status: str
    created_at: datetime
    updated_at: datetime
    # Settings the business line manages itself, in the proto3 JSON form of the API.
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NewApp:
    app: App
    secret: str = field(repr=False)


def _context(app_id: str) -> bytes:
    return b"app-secret:" + app_id.encode()


# Where the encrypted EST password sits inside the stored ``ca_provider`` setting: a key
# the proto does not know, so that settings turned into messages never carry it.
_SEALED_PASSWORD = "est_password_sealed"
CA_PROVIDER_KINDS = ("BUILT_IN", "EST")


def _ca_context(app_id: str) -> bytes:
    return b"app-ca-password:" + app_id.encode()


@dataclass(frozen=True)
class CaProviderSettings:
    """Which CA certifies an app's signer keys, with the EST password in clear (never shown)."""

    kind: str = "BUILT_IN"
    est_url: str = ""
    est_tls_roots: str = ""
    est_username: str = ""
    est_password: str = field(default="", repr=False)


def _app(row: AppRow) -> App:
    return App(
        row.app_id,
        row.name,
        tuple(s for s in row.scopes.split(",") if s),
        row.status,
        _utc(row.created_at),
        _utc(row.updated_at),
        json.loads(row.settings_json),
    )


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_settings(changes: dict) -> dict:
    """Refuse settings that would break later: bad webhook URLs, certificates that do not parse,
    seal styles the signing service cannot draw, framing origins the signing pages would drop."""
    from cryptography import x509

    url = changes.get("webhook_url")
    if url and not (url.startswith("https://") or url.startswith("http://")) or url and len(url) > 2000:
        raise InvalidArgument("webhook_url must be an http(s) URL of at most 2000 characters")
    for i, pem in enumerate(changes.get("trust_anchors") or ()):
        try:
            anchors = x509.load_pem_x509_certificates(pem.encode())
        except ValueError:
            raise InvalidArgument(f"trust_anchors[{i}] is not a PEM certificate") from None
        for cert in anchors:
            _check_anchor(cert, f"trust_anchors[{i}]")
    if changes.get("ca_provider"):
        _check_ca_provider(changes["ca_provider"])
    _check_frame_ancestors((changes.get("signing_page") or {}).get("frame_ancestors") or [])
    for kind, style in (changes.get("seal_styles") or {}).items():
        if style not in SEAL_STYLES.get(kind, ()):
            raise InvalidArgument(f"seal_styles.{kind} must be one of {', '.join(SEAL_STYLES.get(kind, ()))}")
    return changes


def _check_frame_ancestors(origins: list[str]) -> None:
    if len(origins) > MAX_ORIGINS:
        raise invalid("signingPage.frameAncestors", f"at most {MAX_ORIGINS} origins, got {len(origins)}")
    for i, origin in enumerate(origins):
        if not is_origin(origin):
            raise invalid(f"signingPage.frameAncestors[{i}]",
                          f"{origin[:100]!r} is not an origin: scheme://host[:port] with http or https, "
                          "e.g. https://shop.example")


def _check_anchor(cert, where: str) -> None:
    """A trust anchor must be a CA certificate that may sign certificates (a root or an
    intermediate): trusting a signer's own certificate would trust whatever it signed."""
    from cryptography import x509

    subject = cert.subject.rfc4514_string()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InvalidArgument(f"{where} ({subject}) is not a CA certificate (BasicConstraints cA is not set): "
                              "register the root or intermediate CA that issues the signer certificates")
    try:
        signs_certificates = cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        signs_certificates = False
    if not signs_certificates:
        raise InvalidArgument(f"{where} ({subject}) may not sign certificates (its KeyUsage lacks keyCertSign)")


def _check_ca_provider(provider: dict) -> None:
    from cryptography import x509

    kind = provider.get("kind") or "BUILT_IN"
    if kind not in CA_PROVIDER_KINDS:
        raise InvalidArgument(f"ca_provider.kind must be one of {', '.join(CA_PROVIDER_KINDS)}")
    if kind != "EST":
        return
    url = provider.get("est_url") or ""
    if not url.startswith("https://") or len(url) > 2000:
        raise InvalidArgument("ca_provider.est_url must be the https URL of the EST service "
                              "(e.g. https://ca.example.com/.well-known/est), at most 2000 characters")
    if not (provider.get("est_username") or "").strip():
        raise InvalidArgument("ca_provider.est_username is required for an EST CA provider")
    if provider.get("est_tls_roots"):
        try:
            x509.load_pem_x509_certificates(provider["est_tls_roots"].encode())
        except ValueError:
            raise InvalidArgument("ca_provider.est_tls_roots must be PEM certificates") from None


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidArgument(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    return tuple(dict.fromkeys(scopes))


class Apps:
    def __init__(self, sessions: sessionmaker, master_key: MasterKey):
        self._sessions = sessions
        self._key = master_key

    def create(self, name: str, scopes: list[str] | tuple[str, ...] = ()) -> NewApp:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidArgument("name must be 1 to 200 characters")
        chosen = check_scopes(scopes) if scopes else DEFAULT_SCOPES
        app_id = "app_" + secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            session.add(
                AppRow(
                    app_id=app_id,
                    name=name,
                    secret_ciphertext=self._key.encrypt(secret.encode(), _context(app_id)),
                    scopes=",".join(chosen),
                    status="ACTIVE",
                    settings_json="{}",
                    created_at=now,
                    updated_at=now,
                )
            )
        return NewApp(App(app_id, name, chosen, "ACTIVE", now, now), secret)

    def get(self, app_id: str) -> App:
        with self._sessions() as session:
            row = session.get(AppRow, app_id)
            if row is None:
                raise NotFound(f"app {app_id} not found")
            return _app(row)

    def _secret(self, row: AppRow) -> bytes:
        return self._key.decrypt(row.secret_ciphertext, _context(row.app_id))

    def sign(self, app_id: str, message: bytes) -> str:
        """Lowercase hex HMAC-SHA256 under the app's secret (webhook signatures)."""
        with self._sessions() as session:
            row = session.get(AppRow, app_id)
            if row is None:
                raise NotFound(f"app {app_id} not found")
            return hmac.new(self._secret(row), message, hashlib.sha256).hexdigest()

    def authenticate(self, app_id: str, canonical: bytes, signature: str) -> App:
        """The app whose secret signed ``canonical``; one vague error for every failure."""
        with self._sessions() as session:
            row = session.get(AppRow, app_id)
            if row is None or row.status != "ACTIVE":
                raise Unauthenticated("bad app id or signature")
            expected = hmac.new(self._secret(row), canonical, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, signature):
                raise Unauthenticated("bad app id or signature")
            return _app(row)

    def rotate_secret(self, app_id: str) -> NewApp:
        secret = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            row = session.get(AppRow, app_id)
            if row is None:
                raise NotFound(f"app {app_id} not found")
            row.secret_ciphertext = self._key.encrypt(secret.encode(), _context(app_id))
            row.updated_at = datetime.now(timezone.utc)
            app = _app(row)
        return NewApp(app, secret)

    def list(self, page_size: int = 50, page_token: str = "") -> tuple[list[App], str]:
        """Apps oldest first; the token is the last (create time, id) seen, so pages never shift."""
        size = min(max(page_size or 50, 1), 200)
        query = sa.select(AppRow).order_by(AppRow.created_at, AppRow.app_id).limit(size + 1)
        if page_token:
            try:
                created, app_id = base64.urlsafe_b64decode(page_token.encode()).decode().split("|", 1)
                after = datetime.fromisoformat(created)
            except ValueError:
                raise InvalidArgument("page_token is not a token this service issued") from None
            query = query.where(
                sa.or_(AppRow.created_at > after, sa.and_(AppRow.created_at == after, AppRow.app_id > app_id))
            )
        with self._sessions() as session:
            rows = session.execute(query).scalars().all()
        apps = [_app(row) for row in rows[:size]]
        token = ""
        if len(rows) > size:
            last = rows[size - 1]
            token = base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.app_id}".encode()).decode()
        return apps, token

    def update(self, app_id: str, *, name: str | None = None, scopes: list[str] | None = None,
               status: str | None = None, settings: dict | None = None) -> App:
        """An administrator's change of an app; only the given parts change."""
        if status is not None and status not in ("ACTIVE", "DISABLED"):
            raise InvalidArgument("status must be ACTIVE or DISABLED")
        if name is not None and not (0 < len(name.strip()) <= 200):
            raise InvalidArgument("name must be 1 to 200 characters")
        chosen = check_scopes(scopes) if scopes is not None else None
        with self._sessions.begin() as session:
            row = session.execute(sa.select(AppRow).where(AppRow.app_id == app_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise NotFound(f"app {app_id} not found")
            if name is not None:
                row.name = name.strip()
            if chosen is not None:
                row.scopes = ",".join(chosen)
            if status is not None:
                row.status = status
            if settings:
                stored = json.loads(row.settings_json)
                merged = {**stored, **self._sealed(app_id, stored, check_settings(settings))}
                row.settings_json = json.dumps(merged, ensure_ascii=False, sort_keys=True)
            row.updated_at = datetime.now(timezone.utc)
            return _app(row)

    def update_settings(self, app_id: str, changes: dict) -> App:
        with self._sessions.begin() as session:
            row = session.execute(sa.select(AppRow).where(AppRow.app_id == app_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise NotFound(f"app {app_id} not found")
            stored = json.loads(row.settings_json)
            merged = {**stored, **self._sealed(app_id, stored, check_settings(changes))}
            row.settings_json = json.dumps(merged, ensure_ascii=False, sort_keys=True)
            row.updated_at = datetime.now(timezone.utc)
            return _app(row)

    def ca_provider(self, app_id: str) -> CaProviderSettings:
        """The app's CA provider with its EST password decrypted, for the signing service."""
        provider = self.get(app_id).settings.get("ca_provider") or {}
        if (provider.get("kind") or "BUILT_IN") != "EST":
            return CaProviderSettings()
        sealed = provider.get(_SEALED_PASSWORD) or ""
        password = self._key.decrypt(base64.b64decode(sealed), _ca_context(app_id)).decode() if sealed else ""
        return CaProviderSettings("EST", provider.get("est_url") or "", provider.get("est_tls_roots") or "",
                                  provider.get("est_username") or "", password)

    def _sealed(self, app_id: str, stored: dict, changes: dict) -> dict:
        """``changes`` with a new EST password encrypted under the master key, or the stored one
        kept when neither the URL nor the user name changed; the clear password is not stored."""
        if "ca_provider" not in changes:
            return changes
        provider = {k: v for k, v in (changes["ca_provider"] or {}).items()
                    if k not in ("est_password", "est_password_set", _SEALED_PASSWORD)}
        password = (changes["ca_provider"] or {}).get("est_password") or ""
        if (provider.get("kind") or "BUILT_IN") != "EST":
            return {**changes, "ca_provider": provider}
        before = stored.get("ca_provider") or {}
        if password:
            sealed = base64.b64encode(self._key.encrypt(password.encode(), _ca_context(app_id))).decode()
        elif before.get(_SEALED_PASSWORD) and all(before.get(k) == provider.get(k)
                                                  for k in ("est_url", "est_username")):
            sealed = before[_SEALED_PASSWORD]
        else:
            raise InvalidArgument("ca_provider.est_password is required for an EST CA provider "
                                  "(a stored one is kept only while the URL and user name stay the same)")
        return {**changes, "ca_provider": {**provider, "est_password_set": True, _SEALED_PASSWORD: sealed}}
