"""Masking of ID numbers, mobiles and e-mail addresses in identity's logs, traces and
errors: the platform's shared rules in ``core.masking``."""
from core.masking import MaskingFilter, mask_email, mask_id_number, mask_mobile, mask_text, mask_value

__all__ = ["MaskingFilter", "mask_email", "mask_id_number", "mask_mobile", "mask_text", "mask_value"]
