"""Client-side signing through REST: ``:prepareSign`` → the signer's own key signs
``toBeSigned`` → ``:completeSign``; the contract moves on exactly as with ``:sign``."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing import verify as verifier
from services.signing.store import PreparationRow
from services.signing.signatures import signing_date
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.client_signing import steps
from tests.integration.client_signing.conftest import BORROWER_ONLY
from tests.integration.client_signing.steps import ClientKey
from tests.integration.contract.helpers import (
    approved_template,
    borrower,
    create_contract,
    error,
    intent_token,
    lender,
    ok,
    sign_as,
    signer_of,
    violations,
)
from tests.support.pdf_text import text_in
from tests.unit.signing.fixtures import contract_pdf

FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED = 9, 3, 5, 7
REPLAYED = "signer {signer_id} has already signed contract {contract_id}"


def _expire(mesh, preparation_id: str, ago: dt.timedelta) -> None:
    with mesh.contexts["signing"].sessions.begin() as session:
        session.execute(sa.update(PreparationRow).where(PreparationRow.preparation_id == preparation_id)
                        .values(expires_at=dt.datetime.now(dt.timezone.utc) - ago))


def _borrower_contract(client, template) -> dict:
    return create_contract(client, template["templateId"], signers=[borrower(order=1)])


def test_a_client_signs_with_its_own_key_through_rest(mesh, business, new_app, loan_template, outside_ca, pdfsig_tools,
                                                      tmp_path):
    contract = create_contract(business, loan_template["templateId"])
    assert sign_as(business, contract, "lender")["status"] == "SIGNING"  # the platform-issued signature first
    key = ClientKey.ec(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    done = ok(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))))
    assert done["status"] == "COMPLETED"

    pdf = steps.document(business, contract["contractId"])
    assert hashlib.sha256(pdf).hexdigest() == done["documents"][0]["sha256"]
    fields = [s.field_name for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures]
    borrower_field = f"sig_{signer_of(contract, 'borrower')['signerId']}"
    assert borrower_field in fields

    # Trusted for the business line that registered the outside CA...
    report = steps.verify(business, pdf)
    assert report["valid"] is True, report
    client_side = next(s for s in report["signatures"] if s["fieldName"] == borrower_field)
    assert client_side["signer"] == "张三" and client_side["trusted"] and client_side["intact"]
    assert client_side["verdict"] == "VALID" and client_side.get("timestampTime")
    assert client_side["serialNumber"] == format(key.cert.serial_number, "x")
    # ...and for nobody else: not with the platform's roots alone, not for another business line.
    for other in (steps.verify(business, pdf, platformTrustOnly=True), steps.verify(new_app("bystander"), pdf)):
        theirs = next(s for s in other["signatures"] if s["fieldName"] == borrower_field)
        assert other["valid"] is False and theirs["trusted"] is False and theirs["intact"] is True
        assert theirs["verdict"] == "INDETERMINATE"

    # pyHanko's validator directly, trusting the platform root and the outside CA.
    roots = [r.encode() for r in ok(business.get("/v1/trust/roots"))["roots"]]
    from cryptography import x509

    trusted = [x509.load_pem_x509_certificate(r) for r in roots] + [outside_ca.root]
    direct = verifier.verify(pdf, trusted)
    assert direct.valid and all(s.verdict is verifier.Verdict.VALID for s in direct.signatures)

    blocks = steps.pdfsig(pdf, tmp_path, [*roots, outside_ca.root.public_bytes(serialization.Encoding.PEM)])
    mine = next(b for b in blocks if b.get("Signature Field Name") == borrower_field)
    assert mine["Signer Certificate Common Name"] == "张三"
    assert mine["Signature Validation"] == "Signature is Valid."
    assert mine["Certificate Validation"] == "Certificate is Trusted."
    assert mine["Signature Type"] == "ETSI.CAdES.detached"

    trail = ok(business.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    events = [e["type"] for e in trail]
    assert "signature.prepared" in events and "document.timestamped" in events
    # The signature names the intent it was prepared under, as a cloud signature does.
    borrower_id = signer_of(contract, "borrower")["signerId"]
    intent = [e for e in trail if e["type"] == "intent.verified" and e["signerId"] == borrower_id][-1]
    signed = next(e for e in trail if e["type"] == "signer.signed" and e["signerId"] == borrower_id)
    assert signed["details"]["intentMethods"] == intent["details"]["intentMethods"] == ["SMS"]
    assert signed["details"]["intentTokenId"] == intent["details"]["tokenId"]


def test_the_signing_date_is_stamped_where_the_template_says_and_signed_by_the_client(business, reviewer,
                                                                                      outside_ca):
    dated = [{**BORROWER_ONLY[0], "datePosition": {"page": 3, "x": 400, "y": 60}}]
    template = approved_template(business, reviewer, loan_contract_docx_bytes(), roles=dated)
    contract = _borrower_contract(business, template)
    date_box = (340, 50, 460, 70)  # around (400, 60) of page 3
    assert text_in(steps.document(business, contract["contractId"]), 2, date_box).strip() == ""
    key = ClientKey.ec(outside_ca, "张三")
    before = signing_date(dt.datetime.now(dt.timezone.utc))
    preparation = steps.prepared(business, contract, "borrower", key)
    after = signing_date(dt.datetime.now(dt.timezone.utc))
    done = ok(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))))
    assert done["status"] == "COMPLETED"

    pdf = steps.document(business, contract["contractId"])
    assert text_in(pdf, 2, date_box).strip() in {before, after}
    field = f"sig_{signer_of(contract, 'borrower')['signerId']}"
    report = steps.verify(business, pdf)
    mine = next(s for s in report["signatures"] if s["fieldName"] == field)
    assert report["valid"] is True and mine["verdict"] == "VALID" and mine["intact"], report
    assert mine["serialNumber"] == format(key.cert.serial_number, "x")
    # The date is part of what the client's key signed: the revision it covers shows it already.
    (signature,) = [s for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures if s.field_name == field]
    start, length = signature.byte_range[2], signature.byte_range[3]
    assert text_in(pdf[:start + length], 2, date_box).strip() in {before, after}


def test_an_rsa_key_signs_too_and_a_wrong_signature_changes_nothing(business, borrower_template, outside_ca):
    contract = _borrower_contract(business, borrower_template)
    key = ClientKey.rsa(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    before = ok(business.get(f"/v1/contracts/{contract['contractId']}"))

    stranger = ClientKey.ec(outside_ca, "张三")  # another key: its signature does not match the certificate
    refused = error(steps.complete(business, contract, preparation, stranger.sign(steps.to_be_signed(preparation))),
                    400, INVALID_ARGUMENT)
    assert "does not verify" in violations(refused)["signature"]
    tampered = error(steps.complete(business, contract, preparation,
                                    key.sign(steps.to_be_signed(preparation) + b"\x00")), 400, INVALID_ARGUMENT)
    assert "signature" in violations(tampered)
    after = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert after["documents"] == before["documents"] and signer_of(after, "borrower")["status"] == "PENDING"

    # The preparation is still good for the right signature.
    done = ok(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))))
    assert done["status"] == "COMPLETED"
    assert steps.verify(business, steps.document(business, contract["contractId"]))["valid"] is True


def test_a_replayed_completion_is_refused(mesh, business, loan_template, outside_ca):
    # The borrower signs first, so the contract is still open for the lender when the replay comes.
    contract = create_contract(business, loan_template["templateId"],
                               signers=[borrower(order=1), lender(order=2)])
    key = ClientKey.ec(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    signature = key.sign(steps.to_be_signed(preparation))
    first = ok(steps.complete(business, contract, preparation, signature))
    assert first["status"] == "SIGNING"
    replay = error(steps.complete(business, contract, preparation, signature), 400, FAILED_PRECONDITION)
    signer_id = signer_of(contract, "borrower")["signerId"]
    assert replay["message"] == REPLAYED.format(signer_id=signer_id, contract_id=contract["contractId"])
    assert ok(business.get(f"/v1/contracts/{contract['contractId']}"))["documents"] == first["documents"]

    # The signing service refuses it on its own too.
    import grpc

    from econtract.signing.v1 import signing_pb2, signing_pb2_grpc

    with grpc.insecure_channel(mesh.env["SIGNING_ADDR"]) as channel:
        stub = signing_pb2_grpc.SigningServiceStub(channel)
        with pytest.raises(grpc.RpcError) as again:
            stub.CompleteSignature(signing_pb2.CompleteSignatureRequest(
                preparation_id=preparation["preparationId"], signature=signature))
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert re.fullmatch(
            rf"preparation {preparation['preparationId']} was already completed at \S+: a prepared signature is "
            r"embedded once; prepare again to sign again", again.value.details()), again.value.details()
        state = stub.GetPreparation(signing_pb2.GetPreparationRequest(preparation_id=preparation["preparationId"]))
        assert state.state == signing_pb2.GetPreparationResponse.STATE_COMPLETED


def test_an_expired_preparation_is_refused(mesh, business, borrower_template, outside_ca):
    contract = _borrower_contract(business, borrower_template)
    key = ClientKey.ec(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    _expire(mesh, preparation["preparationId"], dt.timedelta(seconds=1))  # its ten minutes pass
    refused = error(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))),
                    400, FAILED_PRECONDITION)
    assert "expired" in refused["message"] and "prepare the signature again" in refused["message"]
    assert signer_of(ok(business.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "PENDING"

    # Past the grace period the next preparation cleans it up.
    _expire(mesh, preparation["preparationId"], dt.timedelta(hours=2))
    steps.prepared(business, _borrower_contract(business, borrower_template), "borrower", key)
    gone = error(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))),
                 404, NOT_FOUND)
    assert "not found" in gone["message"]


def test_a_revoked_client_certificate_is_refused(business, borrower_template, outside_ca):
    contract = _borrower_contract(business, borrower_template)
    key = ClientKey.ec(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    outside_ca.revoke(key.cert)  # between the two steps: the CA's CRL now lists it
    refused = error(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))),
                    400, FAILED_PRECONDITION)
    assert "revoked" in refused["message"]
    assert signer_of(ok(business.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "PENDING"

    again = _borrower_contract(business, borrower_template)  # and a revoked certificate cannot even prepare
    assert "revoked" in error(steps.prepare(business, again, "borrower", key), 400, FAILED_PRECONDITION)["message"]


def test_a_ca_the_business_line_did_not_register_cannot_sign(new_app, reviewer, outside_ca):
    unanchored = new_app("client-signing-unanchored")
    template = approved_template(unanchored, reviewer, loan_contract_docx_bytes(), roles=BORROWER_ONLY)
    contract = _borrower_contract(unanchored, template)
    refused = error(steps.prepare(unanchored, contract, "borrower", ClientKey.ec(outside_ca, "张三")),
                    400, FAILED_PRECONDITION)
    assert "trustAnchors" in refused["message"]


def test_a_certificate_naming_someone_else_is_refused(business, borrower_template, outside_ca):
    contract = _borrower_contract(business, borrower_template)
    refused = error(steps.prepare(business, contract, "borrower", ClientKey.ec(outside_ca, "李四")),
                    400, INVALID_ARGUMENT)
    assert "李四" in violations(refused)["certificateChain"]


def test_prepare_needs_a_chain(business, borrower_template):
    contract = _borrower_contract(business, borrower_template)
    signer = signer_of(contract, "borrower")
    reply = business.post(f"/v1/contracts/{contract['contractId']}:prepareSign",
                          {"signerId": signer["signerId"], "intentToken": "x", "certificateChain": []})
    assert "certificateChain" in violations(error(reply, 400, INVALID_ARGUMENT))


def test_a_document_changed_in_storage_cannot_be_prepared(mesh, business, borrower_template, outside_ca):
    contract = _borrower_contract(business, borrower_template)
    recorded = contract["documents"][0]["sha256"]
    blobs = mesh.contexts["contract"].blobs
    stored = blobs.root / recorded[:2] / recorded[2:4] / recorded
    original = stored.read_bytes()
    # The blob is shared: the render cache hands the same PDF to later contracts of this
    # template and data, so the change is undone once the preparation was attempted.
    stored.write_bytes(original + b"%changed in storage\n")
    try:
        reply = steps.prepare(business, contract, "borrower", ClientKey.ec(outside_ca, "张三"))
    finally:
        stored.write_bytes(original)
    refused = error(reply, 400, FAILED_PRECONDITION)
    assert "no longer matches the contract's record" in refused["message"], refused
    after = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(after, "borrower")["status"] == "PENDING" and after["documents"] == contract["documents"]
    events = [e["type"] for e in ok(business.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]]
    assert "signature.prepared" not in events


def test_an_intent_token_of_another_signer_or_contract_cannot_prepare(business, loan_template, borrower_template,
                                                                      outside_ca):
    key = ClientKey.ec(outside_ca, "张三")
    contract = create_contract(business, loan_template["templateId"], signers=[borrower(order=1), lender(order=1)])
    mine, theirs = signer_of(contract, "borrower"), signer_of(contract, "lender")
    elsewhere = _borrower_contract(business, borrower_template)  # the same person, in another contract
    other = signer_of(elsewhere, "borrower")

    for token in (intent_token(business, theirs["signerId"], [contract["contractId"]], theirs["mobile"]),
                  intent_token(business, other["signerId"], [elsewhere["contractId"]], other["mobile"])):
        reply = business.post(f"/v1/contracts/{contract['contractId']}:prepareSign",
                              {"signerId": mine["signerId"], "intentToken": token, "certificateChain": key.chain()})
        refused = error(reply, 403, PERMISSION_DENIED)
        assert refused["message"] == "identity service, checking the intent token: intent token was issued to " \
                                     "another signer"
    after = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(after, "borrower")["status"] == "PENDING" and after["documents"] == contract["documents"]
    events = [e["type"] for e in ok(business.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]]
    assert "signature.prepared" not in events


def test_a_contract_with_several_documents_gets_one_preparation_per_document(business, borrower_template, outside_ca):
    contract = create_contract(business, borrower_template["templateId"], signers=[borrower(order=1)], extraDocuments=[
        {"name": "附件一 还款说明", "fileName": "annex.pdf", "data": steps.b64(contract_pdf())}])
    main, annex = contract["documents"]
    key = ClientKey.ec(outside_ca, "张三")
    preparation = steps.prepared(business, contract, "borrower", key)
    prepared = preparation["documents"]
    assert [p["documentId"] for p in prepared] == [main["documentId"], annex["documentId"]]
    assert len({p["preparationId"] for p in prepared}) == 2
    for one in prepared:
        assert base64.b64decode(one["digest"]) == hashlib.sha256(base64.b64decode(one["toBeSigned"])).digest()
    signatures = [{"preparationId": p["preparationId"], "signature": steps.b64(key.sign(steps.to_be_signed(p)))}
                  for p in prepared]
    url = f"/v1/contracts/{contract['contractId']}:completeSign"

    # One signature for two documents, or one that does not verify: nothing is embedded.
    only_main = error(steps.complete(business, contract, prepared[0], key.sign(steps.to_be_signed(prepared[0]))),
                      400, INVALID_ARGUMENT)
    assert violations(only_main)["signatures"] == (f"contract {contract['contractId']} has 2 documents: send one "
                                                   "signature per document, each with its preparationId")
    wrong = [signatures[0], {**signatures[1], "signature": signatures[0]["signature"]}]
    refused = error(business.post(url, {"signatures": wrong}), 400, INVALID_ARGUMENT)
    assert violations(refused)["signature"].startswith(
        f"does not verify against toBeSigned of preparation {prepared[1]['preparationId']}")
    unchanged = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert unchanged["documents"] == contract["documents"] and signer_of(unchanged, "borrower")["status"] == "PENDING"

    done = ok(business.post(url, {"signatures": list(reversed(signatures))}))  # matched by preparation, not order
    assert done["status"] == "COMPLETED"
    field = f"sig_{signer_of(contract, 'borrower')['signerId']}"
    for document in done["documents"]:
        pdf = business.get(f"/v1/contracts/{contract['contractId']}/document?documentId={document['documentId']}"
                           "&alt=media").content
        assert hashlib.sha256(pdf).hexdigest() == document["sha256"]
        report = steps.verify(business, pdf)
        mine = next(s for s in report["signatures"] if s["fieldName"] == field)
        assert report["valid"] is True and mine["verdict"] == "VALID"
        assert mine["serialNumber"] == format(key.cert.serial_number, "x")
    events = [e for e in ok(business.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
              if e["type"] == "signature.prepared"]
    assert len(events) == 2
