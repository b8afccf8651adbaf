"""Masking of errors leaving the RPC handlers, and of the service's log output."""
import io
import logging

import pytest

from core.errors import FieldViolation, InvalidArgument, NotFound
from services.identity.api import _masked_errors
from services.identity.masking import MaskingFilter
from services.identity.server import install_masking


class Handlers:
    @_masked_errors
    def Fail(self, request, context):
        raise request


def test_handler_errors_are_masked_and_keep_their_type():
    error = InvalidArgument("bad 110101199003074514 and 13800000000",
                            [FieldViolation("idNumber", "zhang.san@example.com is odd")])
    with pytest.raises(InvalidArgument) as caught:
        Handlers().Fail(error, None)
    assert caught.value.message == "bad 110101********4514 and 138****0000"
    assert str(caught.value) == caught.value.message
    assert caught.value.violations == (FieldViolation("idNumber", "z***@example.com is odd"),)
    with pytest.raises(NotFound):
        Handlers().Fail(NotFound("nothing"), None)


def test_install_masking_covers_records_of_child_loggers():
    root = logging.getLogger("identity-test-root")
    root.propagate = False
    out = io.StringIO()
    root.addHandler(logging.StreamHandler(out))
    install_masking(root)
    install_masking(root)  # idempotent
    logging.getLogger("identity-test-root.child").warning("sent to %s", "13800000000")
    assert out.getvalue().strip() == "sent to 138****0000"
    assert sum(isinstance(f, MaskingFilter) for f in root.handlers[0].filters) == 1
