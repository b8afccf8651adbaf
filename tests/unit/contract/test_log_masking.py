"""The contract service's log masking: identifiers in records of its loggers are masked."""
import io
import logging

from services.contract.log_masking import mask_logs


def test_contract_records_are_masked_message_arguments_and_traceback():
    root = logging.getLogger("contract-masking-test")
    root.propagate = False
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    mask_logs(root)
    child = logging.getLogger("contract-masking-test.services.contract.notices")
    child.warning("notice nt_1 to signer sg_1: giving up (%s refused %s, ID %s)",
                  "zhang.san@example.com", 13812345678, "110101199003074514")
    try:
        raise ValueError("no mailbox for li.si@example.com")
    except ValueError:
        child.exception("delivery failed")
    text = out.getvalue()
    assert text.splitlines()[0] == "notice nt_1 to signer sg_1: giving up (z***@example.com refused 138****5678, ID 110101********4514)"
    assert "l***@example.com" in text
    for secret in ("zhang.san@", "13812345678", "199003074514", "li.si@"):
        assert secret not in text
