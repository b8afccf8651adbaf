"""Checking, normalising and masking subject identifiers (no database needed)."""
import secrets

import pytest

from core.errors import InvalidArgument
from core.masterkey import MasterKey
from services.identity.config import DEFAULT_ID_TYPES
from services.identity.subjects import Identifier, Subjects, mask_identifier


@pytest.fixture
def subjects() -> Subjects:
    return Subjects(None, MasterKey(secrets.token_bytes(32)), secrets.token_bytes(32), DEFAULT_ID_TYPES)


def test_national_numbers_are_normalised(subjects):
    assert subjects.identifier("ID_CARD", " 11010119900307109x ").value == "11010119900307109X"
    assert subjects.identifier("USCC", "91350100m000100y43").value == "91350100M000100Y43"
    assert subjects.identifier("USER_ID", " Alice ").value == "Alice"  # business-line ids keep their case


@pytest.mark.parametrize(
    ("id_type", "value", "field", "words"),
    [
        ("ID_CARD", "110101199003074513", "signer.id", "check digit"),
        ("USCC", "91110302MA01NNKT89", "signer.id", "GB 11714"),
        ("PASSPORT", "E1234", "signer.idType", "unknown identifier type"),
        ("USER_ID", "", "signer.id", "1 to 128"),
        ("USER_ID", "x" * 129, "signer.id", "1 to 128"),
    ],
)
def test_bad_identifiers_name_the_field_and_hide_the_number(subjects, id_type, value, field, words):
    with pytest.raises(InvalidArgument) as caught:
        subjects.identifier(id_type, value, "signer")
    assert caught.value.violations[0].field == field and words in caught.value.message
    if len(value) == 18:
        assert value not in caught.value.message


def test_masks():
    assert mask_identifier("ID_CARD", "110101199003074514") == "110101********4514"
    assert mask_identifier("USCC", "91350100M000100Y43") == "913501********0Y43"
    assert mask_identifier("USER_ID", "u-123456") == "u-****56"
    assert mask_identifier("PIN", "123") == "***"
    assert Identifier("ID_CARD", "110101199003074514").masked == "ID_CARD 110101********4514"
    assert "110101199003074514" not in repr(Identifier("ID_CARD", "110101199003074514"))


def test_the_lookup_key_must_be_long_enough():
    with pytest.raises(ValueError):
        Subjects(None, MasterKey(secrets.token_bytes(32)), b"short", DEFAULT_ID_TYPES)
