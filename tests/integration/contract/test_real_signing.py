"""The signing path with the real signing service (PAdES, platform CA, timestamps):
two parties sign in order, the contract completes with a B-LTA document timestamp, and
the downloaded PDF verifies. Needs the signing service's gRPC layer (issue 6)."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest

from tests.integration.contract.conftest import TEST_CONFIG
from tests.integration.contract.helpers import ContractServer, create_contract, ok, sign_as


@pytest.fixture(scope="module")
def real_signing(contract_server: ContractServer, fake_signing) -> Iterator[ContractServer]:
    contract_server.restart(config=TEST_CONFIG)  # the mesh's own signing service
    yield contract_server
    contract_server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)


def test_two_parties_sign_and_the_pdf_verifies(real_signing, business, template):
    contract = create_contract(business, template["templateId"])
    assert sign_as(business, contract, "lender")["status"] == "SIGNING"
    done = sign_as(business, contract, "borrower")
    assert done["status"] == "COMPLETED"
    pdf = business.get(f"/v1/contracts/{contract['contractId']}/document?alt=media").content
    assert hashlib.sha256(pdf).hexdigest() == done["documents"][0]["sha256"]
    report = ok(business.post("/v1/documents:verify", {"pdf": base64.b64encode(pdf).decode()}))
    assert report["valid"] is True, report
    signatures = [s for s in report["signatures"] if s.get("signer")]
    assert len(signatures) >= 2 and all(s["verdict"] == "VALID" and s["intact"] and s["trusted"] for s in signatures)
    events = ok(business.get(f"/v1/contracts/{contract['contractId']}/events"))
    assert events["chainVerified"] and "document.timestamped" in [e["type"] for e in events["events"]]
