"""Ticket numbers: digits only, a Damm check digit that catches the usual keypad mistakes."""
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets import numbers

bodies = st.text(alphabet="0123456789", min_size=13, max_size=16)


def test_format_is_day_sequence_check_digit():
    number = numbers.format_number("20261125", 42)
    assert number.startswith("2026112500042") and len(number) == 14 and number.isdigit()
    assert numbers.is_valid(number)
    assert numbers.spoken_groups(number) == ["20261125", "00042", number[-1]]


@given(bodies)
def test_every_single_digit_error_is_caught(body):
    number = body + numbers.check_digit(body)
    assert numbers.is_valid(number)
    for i, ch in enumerate(number):
        for d in "0123456789":
            if d != ch:
                assert not numbers.is_valid(number[:i] + d + number[i + 1:])


@given(bodies)
def test_every_adjacent_transposition_is_caught(body):
    number = body + numbers.check_digit(body)
    for i in range(len(number) - 1):
        a, b = number[i], number[i + 1]
        if a != b:
            assert not numbers.is_valid(number[:i] + b + a + number[i + 2:])


def test_all_digit_pairs_transposed_are_caught():
    # exhaustive over the pairs: Damm has no blind spot like Luhn's 09 <-> 90
    rng = random.Random(7)
    for a in "0123456789":
        for b in "0123456789":
            if a == b:
                continue
            prefix = "".join(rng.choice("0123456789") for _ in range(8))
            body = prefix + a + b + "0042"
            number = body + numbers.check_digit(body)
            swapped = prefix + b + a + "0042"
            assert not numbers.is_valid(swapped + number[-1])


@pytest.mark.parametrize("typed", ["2026 1125 0004 2{c}", "2026-1125-00042-{c}", "２０２６１１２５０００４２{c}"])
def test_typed_forms_are_cleaned(typed):
    number = numbers.format_number("20261125", 42)
    assert numbers.clean(typed.format(c=number[-1])) == number


@pytest.mark.parametrize("bad", ["", "abc", "2026112500042", "20261125000420000000000000", None, "2026112500042x"])
def test_malformed_numbers_are_refused(bad):
    assert numbers.clean(bad) is None
    assert not numbers.is_valid(bad)


def test_check_digit_refuses_non_digits():
    with pytest.raises(ValueError):
        numbers.check_digit("12a4")
