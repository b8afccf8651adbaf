"""Where a webhook may go, and POSTing to exactly the address that was checked.

A business line's URL is resolved once per attempt; every address it resolves to must
be public (not loopback, private, link-local, shared, multicast, reserved or
unspecified — IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry)
unless private targets are allowed for development. The connection then goes to the
checked address itself, with the URL's host name only in the ``Host`` header and TLS
SNI/certificate check, so a second DNS answer cannot point it elsewhere (DNS
rebinding). ``http.client`` never follows redirects: a 3xx is just a failed attempt.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER = 4096  # bytes of the receiver's answer kept for the delivery log

Resolver = Callable[[str, int], list[str]]


class RefusedTarget(Exception):
    """The URL may not be called (bad form or a forbidden address)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked IP address the connection goes to

    @property
    def display(self) -> str:
        """The URL without query (which may carry a receiver's token), for the delivery log."""
        return f"{self.scheme}://{self.host}:{self.port}{self.path.split('?', 1)[0]}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def forbidden_reason(address: str) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedTarget(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_target(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """Check the URL's form and every address its host resolves to."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget("webhook URL must be http or https")
    if parts.username or parts.password:
        raise RefusedTarget("webhook URL must not carry credentials")
    host = parts.hostname
    if not host:
        raise RefusedTarget("webhook URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedTarget("webhook URL has an invalid port") from None
    addresses = resolver(host, port)
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                # One bad answer refuses the host: the next lookup might pick that one.
                raise RefusedTarget(f"{host} resolves to {address}, a {reason} address; webhooks go only to public addresses")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHttp(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI are for the URL's host name, the socket for the checked address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Answer:
    """POST ``body`` to the checked address; network errors raise ``OSError``."""
    kind = _PinnedHttps if target.scheme == "https" else _PinnedHttp
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return Answer(response.status, response.read(MAX_ANSWER))
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc.__class__.__name__}") from None
    finally:
        connection.close()
