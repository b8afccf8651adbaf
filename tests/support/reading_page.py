"""A new contract's borrower on the signing pages, through consent and an SMS code to the reading page."""
from __future__ import annotations

from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of
from tests.integration.pages.flow import Signer, code_for
from tests.support.signed import SignedClient


def to_the_reading_page(client: SignedClient, template_id: str) -> tuple[Signer, dict, str]:
    """The borrower's page (the lender signs second), the contract, and the reading page's text."""
    person = borrower(order=1)
    contract = create_contract(client, template_id, signers=[lender(order=2), person])
    body = {"signerId": signer_of(contract, "borrower")["signerId"], "source": "PC", "scene": "NORMAL"}
    page = Signer(ok(client.post(f"/v1/contracts/{contract['contractId']}:signUrl", body))["url"])
    page.post("consent", agree="on")
    page.post("intent", method="SMS")
    return page, contract, page.post("intent/confirm", code=code_for(client, person["mobile"])).text
