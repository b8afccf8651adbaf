"""The contract service holds signers' mobiles, e-mail addresses and ID numbers: what it
logs is masked by the platform's rules (``core.masking``), as identity's output is."""
from __future__ import annotations

import logging

from core.masking import install_masking


def mask_logs(logger: logging.Logger | None = None) -> None:
    """Mask identifiers in every record the root logger (or ``logger``) and its handlers write; idempotent."""
    install_masking(logger)
