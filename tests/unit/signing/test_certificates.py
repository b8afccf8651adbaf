import pytest

from core.errors import InvalidArgument
from services.signing import pki
from services.signing.certificates import parse_reason, parse_serial


@pytest.mark.parametrize("text, reason", [
    ("", pki.RevocationReason.UNSPECIFIED),
    ("keyCompromise", pki.RevocationReason.KEY_COMPROMISE),
    ("key_compromise", pki.RevocationReason.KEY_COMPROMISE),
    ("cessationOfOperation", pki.RevocationReason.CESSATION_OF_OPERATION),
    ("Superseded", pki.RevocationReason.SUPERSEDED),
])
def test_rfc_5280_reason_names(text, reason):
    assert parse_reason(text) == (reason, None)


def test_free_text_is_a_note_under_unspecified():
    assert parse_reason(" signed by mistake ") == (pki.RevocationReason.UNSPECIFIED, "signed by mistake")


@pytest.mark.parametrize("text, value", [("0a1B", 0x0A1B), ("0x0a1b", 0x0A1B), ("0a:1b", 0x0A1B)])
def test_serials_in_hex(text, value):
    assert parse_serial(text) == value


@pytest.mark.parametrize("text", ["", "xyz", "1" * 41])
def test_bad_serials(text):
    with pytest.raises(InvalidArgument, match="serialNumber"):
        parse_serial(text)
