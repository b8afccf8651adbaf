"""Subjects over gRPC against the running identity service and its real database."""
import secrets
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import sqlalchemy as sa

from econtract.common.v1 import common_pb2
from econtract.identity.v1 import identity_pb2 as pb
from services.identity.store import SubjectIdRow, SubjectRow
from tests.integration.identity.platform import random_credit_code, random_id_number

PERSON, ORG = common_pb2.PERSON, common_pb2.ORG


def ref(id_type: str, value: str) -> common_pb2.SubjectRef:
    return common_pb2.SubjectRef(id_type=id_type, id=value)


def upsert(stub, kind=PERSON, name="李四", *refs, **extra) -> pb.UpsertSubjectResponse:
    return stub.UpsertSubject(pb.UpsertSubjectRequest(kind=kind, name=name, identifiers=list(refs), **extra))


def error_of(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_one_person_known_by_id_card_and_user_id_is_one_subject(identity_stub):
    id_number, user_id = random_id_number(), "u-" + secrets.token_hex(6)
    first = upsert(identity_stub, PERSON, "李四", ref("ID_CARD", id_number))
    assert first.created and first.subject.subject_id.startswith("sub_")

    # Another business line knows the same person by its user id, and tells us both.
    second = upsert(identity_stub, PERSON, "李四", ref("USER_ID", user_id), ref("ID_CARD", id_number))
    assert not second.created and second.subject.subject_id == first.subject.subject_id

    by_user = identity_stub.ResolveSubject(pb.ResolveSubjectRequest(subject=ref("USER_ID", user_id))).subject
    by_card = identity_stub.ResolveSubject(pb.ResolveSubjectRequest(subject=ref("ID_CARD", id_number.lower()))).subject
    assert by_user.subject_id == by_card.subject_id == first.subject.subject_id
    assert {(i.id_type, i.id) for i in by_user.identifiers} == {("ID_CARD", id_number), ("USER_ID", user_id)}
    got = identity_stub.GetSubject(pb.GetSubjectRequest(subject_id=first.subject.subject_id)).subject
    assert got.kind == PERSON and got.name == "李四" and got.create_time.seconds > 0


def test_upsert_by_a_new_id_alone_adds_details(identity_stub):
    merchant, shop = "m-" + secrets.token_hex(5), "s-" + secrets.token_hex(5)
    created = upsert(identity_stub, ORG, "某某商贸有限公司", ref("MERCHANT_NO", merchant))
    updated = upsert(identity_stub, ORG, "", ref("SHOP_ID", shop), ref("MERCHANT_NO", merchant), legal_representative="王五")
    assert updated.subject.subject_id == created.subject.subject_id
    assert updated.subject.name == "某某商贸有限公司" and updated.subject.legal_representative == "王五"
    assert len(updated.subject.identifiers) == 2


def test_ids_of_two_different_subjects_conflict_with_masked_ids(identity_stub):
    id_number, user_id = random_id_number(), "13912345678"  # a business line using the mobile as user id
    one = upsert(identity_stub, PERSON, "赵六", ref("ID_CARD", id_number)).subject.subject_id
    other = upsert(identity_stub, PERSON, "孙七", ref("USER_ID", user_id)).subject.subject_id

    error = error_of(lambda: upsert(identity_stub, PERSON, "赵六", ref("ID_CARD", id_number), ref("USER_ID", user_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    message = error.details()
    assert one in message and other in message
    assert id_number not in message and user_id not in message
    assert id_number[:6] + "********" + id_number[-4:] in message


def test_a_subject_has_one_id_card(identity_stub):
    user_id = "u-" + secrets.token_hex(6)
    upsert(identity_stub, PERSON, "周八", ref("USER_ID", user_id), ref("ID_CARD", random_id_number()))
    error = error_of(lambda: upsert(identity_stub, PERSON, "周八", ref("USER_ID", user_id), ref("ID_CARD", random_id_number())))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "another ID_CARD" in error.details()


@pytest.mark.parametrize(
    ("kind", "refs", "words"),
    [
        (PERSON, [ref("ID_CARD", "110101199003074513")], "check digit"),
        (PERSON, [ref("PASSPORT", "E12345678")], "unknown identifier type"),
        (ORG, [ref("ID_CARD", "110101199003074514")], "identifies a PERSON"),
        (PERSON, [ref("USCC", "91350100M000100Y43")], "identifies a ORG"),
        (common_pb2.SIGNER_KIND_UNSPECIFIED, [ref("USER_ID", "x1")], "PERSON or ORG"),
        (PERSON, [], "at least one identifier"),
    ],
)
def test_bad_upserts_are_invalid_arguments_without_the_full_number(identity_stub, kind, refs, words):
    error = error_of(lambda: upsert(identity_stub, kind, "某人", *refs))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert words in error.details()
    assert "110101199003074513" not in error.details() and "110101199003074514" not in error.details()


def test_unknown_subject_is_not_found_with_the_id_masked(identity_stub):
    id_number = random_id_number()
    error = error_of(lambda: identity_stub.ResolveSubject(pb.ResolveSubjectRequest(subject=ref("ID_CARD", id_number))))
    assert error.code() == grpc.StatusCode.NOT_FOUND and id_number not in error.details()
    error = error_of(lambda: identity_stub.GetSubject(pb.GetSubjectRequest(subject_id="sub_nobody")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_organisation_with_agents(identity_stub):
    agent_card = random_id_number()
    agent = upsert(identity_stub, PERSON, "经办人", ref("ID_CARD", agent_card)).subject.subject_id
    org = upsert(
        identity_stub, ORG, "某某科技有限公司", ref("USCC", random_credit_code()),
        legal_representative="法人", authorized_agents=[ref("ID_CARD", agent_card)],
    ).subject
    assert list(org.agent_subject_ids) == [agent] and org.legal_representative == "法人"

    missing = random_id_number()
    error = error_of(lambda: upsert(identity_stub, ORG, "某某科技有限公司", ref("USCC", org.identifiers[0].id),
                                    authorized_agents=[ref("ID_CARD", missing)]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and missing not in error.details()
    error = error_of(lambda: upsert(identity_stub, ORG, "某某科技有限公司", ref("USCC", org.identifiers[0].id),
                                    authorized_agents=[ref("USCC", org.identifiers[0].id)]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "not a person" in error.details()


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_first_upserts_make_one_subject(identity_stub, round_):
    id_number, user_id = random_id_number(), "u-" + secrets.token_hex(6)
    with ThreadPoolExecutor(12) as pool:
        # Half name the identifiers in the other order, so lookups interleave both ways.
        replies = list(pool.map(lambda i: upsert(identity_stub, PERSON, "并发", *[ref("ID_CARD", id_number),
                                                  ref("USER_ID", user_id)][:: 1 if i % 2 else -1]), range(12)))
    assert len({r.subject.subject_id for r in replies}) == 1
    assert sum(r.created for r in replies) == 1


def test_a_database_dump_reveals_no_identifier(identity_stub, mesh):
    id_number, user_id = random_id_number(), "u-" + secrets.token_hex(6)
    subject_id = upsert(identity_stub, PERSON, "钱九", ref("ID_CARD", id_number), ref("USER_ID", user_id)).subject.subject_id
    with mesh.contexts["identity"].sessions() as session:
        rows = session.scalars(sa.select(SubjectIdRow).where(SubjectIdRow.subject_id == subject_id)).all()
        dump = repr([(r.id_type, r.id_hash, bytes(r.id_ciphertext)) for r in rows])
        assert session.get(SubjectRow, subject_id).name == "钱九"
    assert len(rows) == 2
    for secret in (id_number, user_id, id_number[-8:]):
        assert secret not in dump and secret.encode() not in b"".join(bytes(r.id_ciphertext) for r in rows)


def test_a_verified_name_is_not_changed_by_upsert(identity_stub, client):
    id_number = random_id_number()
    verified = client.post("/v1/identities:verifyPerson", {"name": "吴十", "idNumber": id_number}).json()
    assert verified["verified"], verified
    error = error_of(lambda: upsert(identity_stub, PERSON, "吴拾", ref("ID_CARD", id_number)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "verified" in error.details()
    same = upsert(identity_stub, PERSON, "吴十", ref("ID_CARD", id_number), ref("PIN", "p-" + secrets.token_hex(4)))
    assert same.subject.subject_id == verified["subjectId"] and same.subject.verified_level == "FORMAT_ONLY"
    assert same.subject.real_name_method == "FORMAT_RULES" and len(same.subject.real_name_evidence_sha256) == 64
