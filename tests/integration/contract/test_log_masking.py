"""The contract service's wiring installs log masking: with every masking filter removed
from the root logger, starting the contract server puts it back, and what a contract
module logs reaches the handlers with identifiers masked."""
import io
import logging

from core.masking import MaskingFilter, install_masking
from tests.integration.contract.conftest import TEST_CONFIG


def _strip_masking(root: logging.Logger) -> None:
    for target in (root, *root.handlers):
        for f in [f for f in target.filters if isinstance(f, MaskingFilter)]:
            target.removeFilter(f)


def test_starting_the_contract_service_masks_what_it_logs(contract_server, fake_signing):
    root = logging.getLogger()
    out = io.StringIO()
    capture = logging.StreamHandler(out)
    capture.setFormatter(logging.Formatter("%(name)s %(message)s"))
    notices = logging.getLogger("services.contract.notices")
    try:
        _strip_masking(root)
        root.addHandler(capture)
        notices.warning("before: %s", "zhang.san@example.com")
        assert "before: zhang.san@example.com" in out.getvalue()  # nothing masks it yet

        contract_server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)
        notices.warning("notice nt_1 to signer sg_1: giving up (%s refused %s, ID %s)",
                        "zhang.san@example.com", "13812345678", "110101199003074514")
        last = out.getvalue().splitlines()[-1]
        assert last == ("services.contract.notices notice nt_1 to signer sg_1: giving up "
                        "(z***@example.com refused 138****5678, ID 110101********4514)")
    finally:
        root.removeHandler(capture)
        install_masking()  # as the session's services left it
