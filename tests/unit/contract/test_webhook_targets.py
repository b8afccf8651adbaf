"""Webhook targets: SSRF address checks, URL rules, connecting to the checked address
only, and no redirects."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.contract.webhook_targets import RefusedTarget, Target, forbidden_reason, post, resolve_target


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1",  # loopback
    "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "fd00::1", "fc00::2",  # private
    "169.254.169.254", "fe80::1",  # link-local (cloud metadata lives here)
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "0.0.0.0", "::",  # unspecified
    "224.0.0.1", "ff02::1",  # multicast
    "240.0.0.1", "192.0.2.10", "198.51.100.1", "203.0.113.5",  # reserved / documentation
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
])
def test_non_public_addresses_are_refused(address):
    assert forbidden_reason(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert forbidden_reason(address) is None


def resolver(answers: dict[str, list[str]]):
    def resolve(host: str, _port: int) -> list[str]:
        return answers[host]

    return resolve


def test_a_host_resolving_to_a_private_address_is_refused():
    with pytest.raises(RefusedTarget, match="10.0.0.5, a private address"):
        resolve_target("https://hooks.example.com/cb", allow_private=False,
                       resolver=resolver({"hooks.example.com": ["10.0.0.5"]}))


def test_one_private_answer_among_public_ones_refuses_the_host():
    # The next lookup (or the connection library) might pick the private one.
    with pytest.raises(RefusedTarget, match="loopback"):
        resolve_target("https://hooks.example.com/cb", allow_private=False,
                       resolver=resolver({"hooks.example.com": ["93.184.216.34", "127.0.0.1"]}))


def test_literal_addresses_are_checked_too():
    with pytest.raises(RefusedTarget, match="link-local"):
        resolve_target("http://169.254.169.254/latest/meta-data", allow_private=False,
                       resolver=resolver({"169.254.169.254": ["169.254.169.254"]}))
    with pytest.raises(RefusedTarget):
        resolve_target("http://[::1]:8080/", allow_private=False, resolver=resolver({"::1": ["::1"]}))


def test_private_targets_are_allowed_when_configured():
    target = resolve_target("http://localhost:8080/cb?token=1", allow_private=True,
                            resolver=resolver({"localhost": ["127.0.0.1"]}))
    assert (target.host, target.port, target.path, target.address) == ("localhost", 8080, "/cb?token=1", "127.0.0.1")
    assert target.display == "http://localhost:8080/cb"


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("https://user:pw@example.com/", "credentials"),
    ("https:///nohost", "no host"),
    ("https://example.com:99999/", "port"),
])
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(RefusedTarget, match=message):
        resolve_target(url, allow_private=True, resolver=resolver({"example.com": ["93.184.216.34"]}))


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict]]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "host": self.headers["Host"], "body": body})
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address_with_the_url_host(receiver):
    port, seen = receiver
    # "hooks.invalid" does not resolve: the connection can only use the checked address.
    target = Target("http", "hooks.invalid", port, "/cb?x=1", "127.0.0.1")
    answer = post(target, b'{"a":1}', {"Content-Type": "application/json"}, timeout=5)
    assert answer.status == 204
    assert seen == [{"path": "/cb?x=1", "host": f"hooks.invalid:{port}", "body": b'{"a":1}'}]


def test_redirects_are_not_followed(receiver):
    port, seen = receiver
    answer = post(Target("http", "127.0.0.1", port, "/moved", "127.0.0.1"), b"{}", {}, timeout=5)
    assert answer.status == 302 and len(seen) == 1


def test_network_errors_are_os_errors():
    with pytest.raises(OSError):
        post(Target("http", "127.0.0.1", 1, "/", "127.0.0.1"), b"{}", {}, timeout=2)
