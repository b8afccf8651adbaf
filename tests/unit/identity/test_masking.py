import logging

import pytest

from services.identity.masking import MaskingFilter, mask_email, mask_id_number, mask_mobile, mask_text, mask_value


def test_mask_id_number():
    assert mask_id_number("110101199003074514") == "110101********4514"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("12345") == "*****"


def test_mask_mobile():
    assert mask_mobile("13800000000") == "138****0000"
    assert mask_mobile("+8613912345678") == "+86139****5678"
    assert mask_mobile("123") == "***"


def test_mask_email():
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("a@b.cn") == "a***@b.cn"
    assert mask_email("not-an-email") == "***"


def test_mask_text_finds_all_kinds():
    text = "张三 110101199003074514 手机13800000000，邮箱 zhangsan@example.com；备用+8613912345678"
    masked = mask_text(text)
    assert masked == "张三 110101********4514 手机138****0000，邮箱 z***@example.com；备用+86139****5678"
    for secret in ("199003074514", "13800000000", "zhangsan", "13912345678"):
        assert secret not in masked


def test_mask_text_leaves_other_numbers_and_codes():
    text = "order 12345678901234 amount 13800 code 91350100M000100Y43 ts 1700000000000"
    assert mask_text(text) == text


def test_lowercase_x_id_is_masked():
    assert mask_text("id=11010519491231002x.") == "id=110105********002x."


def test_mask_value_nested():
    value = {"a": ["13800000000", 5], "b": {"c": ("x@example.com",)}}
    assert mask_value(value) == {"a": ["138****0000", 5], "b": {"c": ("x***@example.com",)}}


@pytest.fixture
def captured():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.identity.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, records, handler
    logger.removeHandler(handler)


def test_filter_masks_message_and_all_kinds_of_args(captured):
    logger, records, handler = captured

    class Signer:
        def __str__(self):
            return "signer<zhangsan@example.com>"

    logger.info("verify %s mobile %d for %s", "110101199003074514", 13800000000, Signer())
    out = handler.format(records[0])
    assert out == "verify 110101********4514 mobile 138****0000 for signer<z***@example.com>"


def test_filter_masks_dict_args_and_exceptions(captured):
    logger, records, handler = captured
    try:
        raise ValueError("bad id 110101199003074514")
    except ValueError:
        logger.exception("failed for %(mobile)s", {"mobile": "13800000000"})
    out = handler.format(records[0])
    assert "138****0000" in out and "110101********4514" in out
    assert "13800000000" not in out and "199003074514" not in out
