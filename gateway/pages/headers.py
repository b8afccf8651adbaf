"""Security headers of the signing pages.

No inline script or style runs (JS and CSS are static files); a page may be framed only in
the HEADLESS scene, which exists for embedding, and then only by the origins the business
line listed (``frameAncestors``), or by any site when it listed none; nothing is cached,
since pages show contracts and the URL holds the link token, which no Referer may leak. A form may also
post on to the business line's origin, because the last POST redirects the signer there.
"""
from __future__ import annotations

_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action {form}; frame-ancestors {frame}")
_COMMON = (
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def page_headers(*, headless: bool = False, redirect_origin: str = "",
                 frame_ancestors: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers of one page: framing and form targets depend on the link and the business line."""
    form = "'self'" + (f" {redirect_origin}" if redirect_origin else "")
    frame = (" ".join(frame_ancestors) or "*") if headless else "'none'"
    headers = {"content-security-policy": _CSP.format(form=form, frame=frame)}
    if not headless:
        headers["x-frame-options"] = "DENY"
    return headers


class SecurityHeaders:
    """Adds the common headers to every response, and the strict page policy where a
    response (an image, a 404) set none of its own."""

    def __init__(self, app, *, static: bool = False):
        self.app = app
        self.static = static

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = ((b"x-content-type-options", b"nosniff"),) if self.static else (
            *_COMMON, *((k.encode(), v.encode()) for k, v in page_headers().items()))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                framing = b"content-security-policy" in present  # the response chose its own framing
                headers += [(k, v) for k, v in extra if k not in present and not (framing and k == b"x-frame-options")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
