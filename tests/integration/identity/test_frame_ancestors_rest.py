"""A business line's framing origins (`signingPage.frameAncestors`, PATCH /v1/apps/self) are
checked on the way in by the rule the signing pages keep them by: an entry that is not
`scheme://host[:port]` (http or https) is refused, named, and nothing of the change is kept."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.pages.page_config import frame_origins
from services.identity.apps import SCOPES
from tests.integration.contract.helpers import error, ok, violations
from tests.support.signed import SignedClient

INVALID_ARGUMENT = 3
GOOD = ["https://shop.example", "http://localhost:3000/", "https://m.shop.example:8443"]


@pytest.fixture(scope="module")
def line(mesh, apps) -> Iterator[SignedClient]:
    """An app of its own, so the settings changed here reach no other test."""
    created = apps.create("frame-ancestors", SCOPES)
    client = SignedClient(mesh.base_url, created.app.app_id, created.secret)
    yield client
    client.close()


def patch(line, origins: list[str]):
    return line.request("PATCH", "/v1/apps/self", {"signingPage": {"frameAncestors": origins}})


@pytest.mark.parametrize("entry", [
    "shop.example",  # no scheme
    "ftp://shop.example",
    "javascript:alert(1)",
    "https://shop.example/embed",  # a path
    "https://shop.example?x=1",
    "https://shop.example#top",
    "https://*.shop.example",
    "https://shop.example\n",
    "https://shop.example:8443:1",
])
def test_an_entry_that_is_not_an_origin_is_refused_by_name(line, entry):
    refused = error(patch(line, [GOOD[0], entry]), 400, INVALID_ARGUMENT)
    assert refused["message"].startswith(f"signingPage.frameAncestors[1]: {entry!r} is not an origin"), refused
    assert "signingPage.frameAncestors[1]" in violations(refused)
    assert frame_origins([entry]) == ()  # the pages would have dropped it too
    assert "frameAncestors" not in ok(line.get("/v1/apps/self")).get("signingPage", {})  # nothing kept


def test_origins_the_pages_keep_are_saved(line):
    saved = ok(patch(line, GOOD))
    assert saved["signingPage"]["frameAncestors"] == GOOD
    assert ok(line.get("/v1/apps/self"))["signingPage"]["frameAncestors"] == GOOD
    assert frame_origins(GOOD) == ("https://shop.example", "http://localhost:3000", "https://m.shop.example:8443")
    ok(patch(line, []))


def test_more_origins_than_the_pages_use_are_refused(line):
    many = [f"https://shop{i}.example" for i in range(21)]
    refused = error(patch(line, many), 400, INVALID_ARGUMENT)
    assert refused["message"] == "signingPage.frameAncestors: at most 20 origins, got 21"
