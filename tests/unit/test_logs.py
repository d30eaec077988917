"""Phone numbers never reach a log line unmasked."""
from __future__ import annotations

import logging

from core.logs import MaskingFilter, mask_number, mask_text


def test_mask_number_keeps_three_and_four():
    assert mask_number("13800138000") == "138****8000"
    assert mask_number("+86 138 0013 8000") == "861******8000"
    assert mask_number(None) == "-"


def test_mask_text_finds_mobiles_and_landlines():
    text = "caller 13800138000 then 0752-2345678 and +8613912345678; call id 01a21429dd0ec24d, uniqueid 1717000000.42"
    masked = mask_text(text)
    for raw in ("13800138000", "0752-2345678", "2345678", "13912345678"):
        assert raw not in masked
    assert "1717000000.42" in masked and "01a21429dd0ec24d" in masked


def test_filter_masks_arguments_too(caplog):
    logger = logging.getLogger("test.masking")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(MaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("blocked %s calling %s", "13800138000", "queue")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "blocked 138****8000 calling queue"
