"""The one integer check and the one number check that every layer uses."""

import math

import pytest

from driftrec.encoders.checks import check_int, check_number


@pytest.mark.parametrize(
    "value, lo, hi, error, message",
    [
        (0, 1, None, ValueError, "n=0 is not allowed; it must be >= 1"),
        (11, 0, 10, ValueError, r"n=11 is not allowed; it must be in \[0, 10\]"),
        (-1, 0, 2**63 - 1, ValueError, r"n=-1 is not allowed; it must be in \[0, 2\*\*63 - 1\]"),
        (2.0, 1, None, TypeError, "n must be an integer >= 1, got float: 2.0"),
        (True, 0, None, TypeError, "n must be an integer >= 0, got bool: True"),
        ("3", 1, None, TypeError, "n must be an integer >= 1, got str: '3'"),
    ],
)
def test_check_int_refuses_with_the_value_and_what_is_allowed(value, lo, hi, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        check_int("n", value, lo, hi)


def test_check_int_returns_the_value_at_both_ends():
    assert check_int("n", 1, 1) == 1
    assert check_int("n", 10, 0, 10) == 10
    assert check_int("seed", 2**63 - 1, 0, 2**63 - 1) == 2**63 - 1


@pytest.mark.parametrize(
    "value, lo_open, error, message",
    [
        (0.0, True, ValueError, r"x=0.0 is outside the allowed range \(0.0, 1.0\]"),
        (1.5, False, ValueError, r"x=1.5 is outside the allowed range \[0.0, 1.0\]"),
        (math.nan, False, ValueError, r"x=nan is outside the allowed range"),
        (False, False, TypeError, "x must be a number, got bool: False"),
        ("0.5", False, TypeError, "x must be a number, got str: '0.5'"),
    ],
)
def test_check_number_refuses_with_the_value_and_what_is_allowed(value, lo_open, error, message):
    with pytest.raises(error, match=message):
        check_number("x", value, 0.0, 1.0, lo_open=lo_open)


def test_check_number_accepts_ints_and_the_closed_ends():
    assert check_number("x", 1, 0.0, 1.0) == 1.0
    assert check_number("x", 0.0, 0.0, 1.0) == 0.0
