"""Who is calling a service, as the gateway forwarded it in the call's metadata."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import Unauthenticated


@dataclass(frozen=True)
class CallerInfo:
    app_id: str
    scopes: tuple[str, ...]
    client_ip: str
    user_agent: str


def caller(context) -> CallerInfo:
    metadata = dict(context.invocation_metadata() or ())
    return CallerInfo(
        app_id=metadata.get("x-app-id", ""),
        scopes=tuple(s for s in metadata.get("x-app-scopes", "").split(",") if s),
        client_ip=metadata.get("x-client-ip", ""),
        user_agent=metadata.get("x-user-agent", ""),
    )


def calling_app(context) -> str:
    """The calling app's id; routes reached without an app signature have none."""
    app_id = caller(context).app_id
    if not app_id:
        raise Unauthenticated("this call needs an authenticated app")
    return app_id
