"""Console roles and the scopes each one carries to the services.

The scopes are the ones business-line apps hold (declared on the RPCs in the protos), so a
console user is checked by the same rules as an app. An administrator holds every scope
the REST surface knows, plus ``admin`` for what only administrators do (apps, users).
"""
from __future__ import annotations

from functools import cache

from core.errors import invalid

OPERATOR = "operator"
REVIEWER = "reviewer"
ADMIN = "admin"
ROLES = (OPERATOR, REVIEWER, ADMIN)
ADMIN_SCOPE = "admin"
# Console-only: seeing the certificates the platform CA issued (revoking them is ADMIN_SCOPE).
CERTIFICATES_SCOPE = "console:certificates"

_FIXED = {
    OPERATOR: ("template:read", "template:write", "contract:read", "contract:write", "seal:read", "seal:write"),
    REVIEWER: ("template:read", "template:review", "contract:read", CERTIFICATES_SCOPE),
}


@cache
def api_scopes() -> tuple[str, ...]:
    """Every scope an RPC of the REST surface asks for, from the protos' access options."""
    from gateway.routes import build_routes

    return tuple(sorted({route.access.scope for route in build_routes() if route.access.scope}))


def scopes_of(role: str) -> tuple[str, ...]:
    if role == ADMIN:
        return (*api_scopes(), ADMIN_SCOPE, CERTIFICATES_SCOPE)
    return _FIXED[role]


def allows(role: str, scope: str) -> bool:
    return scope in scopes_of(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise invalid("role", f"must be one of {', '.join(ROLES)}")
    return role
