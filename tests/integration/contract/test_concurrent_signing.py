"""Two signers of one contract signing at the same moment: no signature is lost.

Both sign the revision they read (the stand-in signing service holds both signatures
until each has started); the first to record wins, the other is ABORTED with nothing
recorded and a message saying what to do. It verifies its intent again for the new
revision and signs on top of the winner's signature.
"""
from __future__ import annotations

import threading

from tests.integration.contract.helpers import (
    borrower,
    create_contract,
    error,
    intent_token,
    lender,
    ok,
    sign,
    signer_of,
)


def test_concurrent_signatures_one_wins_the_other_retries(business, template, fake_signing):
    contract = create_contract(business, template["templateId"], signers=[lender(order=1), borrower(order=1)])
    contract_id = contract["contractId"]
    people = [signer_of(contract, "lender"), signer_of(contract, "borrower")]
    tokens = [intent_token(business, p["signerId"], [contract_id], p["mobile"]) for p in people]

    replies: dict[str, object] = {}
    fake_signing.service.barrier = threading.Barrier(2)
    try:
        def go(person: dict, token: str) -> None:
            replies[person["signerId"]] = sign(business, contract_id, person["signerId"], token)

        threads = [threading.Thread(target=go, args=(p, t)) for p, t in zip(people, tokens)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        fake_signing.service.barrier = None

    codes = sorted(r.status_code for r in replies.values())
    assert codes == [200, 409], [r.text for r in replies.values()]
    winner = next(p for p in people if replies[p["signerId"]].status_code == 200)
    loser = next(p for p in people if p is not winner)
    body = error(replies[loser["signerId"]], 409, 10)
    assert "nothing was recorded" in body["message"] and "verify the intent again" in body["message"]

    between = ok(business.get(f"/v1/contracts/{contract_id}"))
    assert between["status"] == "SIGNING" and between["documents"][0]["revision"] == 1
    assert {s["signerId"]: s["status"] for s in between["signers"]} == {winner["signerId"]: "SIGNED", loser["signerId"]: "PENDING"}

    # The loser's old token was bound to the replaced revision; a new intent signs the new
    # one (by e-mail: the mobile just had its code for this minute).
    retry = intent_token(business, loser["signerId"], [contract_id], loser["email"], "EMAIL")
    done = ok(sign(business, contract_id, loser["signerId"], retry))
    assert done["status"] == "COMPLETED"

    pdf = business.get(f"/v1/contracts/{contract_id}/document?alt=media").content
    # Both signatures are in the final document, the winner's underneath the loser's.
    assert pdf.index(f"sig_{winner['signerId']}".encode()) < pdf.index(f"sig_{loser['signerId']}".encode())
    events = ok(business.get(f"/v1/contracts/{contract_id}/events"))
    assert events["chainVerified"] is True
    assert [e["signerId"] for e in events["events"] if e["type"] == "signer.signed"] == [winner["signerId"], loser["signerId"]]
