"""helpers.validate: each check returns the value or names the parameter, what it expected and
what it got."""

from __future__ import annotations

import math

import pytest

from helpers import validate


def test_fraction_closed_and_open():
    assert validate.fraction("share", 0) == 0.0 and validate.fraction("share", 1) == 1.0
    assert validate.fraction("level", 0.95, open_ends=True) == 0.95
    for bad in (-0.1, 1.5, None, "x", math.nan):
        with pytest.raises(ValueError, match="parameter 'share' must be between 0 and 1"):
            validate.fraction("share", bad)
    with pytest.raises(ValueError, match="'level' must be strictly between 0 and 1, got 1"):
        validate.fraction("level", 1, open_ends=True)


def test_positive_non_negative_at_least_one_of():
    assert validate.positive("hours", "4") == 4.0
    with pytest.raises(ValueError, match="'hours' must be a positive number, got 0"):
        validate.positive("hours", 0)
    assert validate.non_negative("cost", 0) == 0.0
    with pytest.raises(ValueError, match="'cost' must be 0 or more"):
        validate.non_negative("cost", -1)
    assert validate.at_least("n_bins", 3.0, 2) == 3
    with pytest.raises(ValueError, match="'n_bins' must be at least 2, got 1"):
        validate.at_least("n_bins", 1, 2)
    assert validate.positive_int("days", 7.9) == 7
    with pytest.raises(ValueError, match="'days' must be a positive number, got 0.5"):
        validate.positive_int("days", 0.5)
    assert validate.one_of("as_of", "end", ("start", "end")) == "end"
    with pytest.raises(ValueError, match=r"'as_of' must be one of \['start', 'end'\]"):
        validate.one_of("as_of", "now", ("start", "end"))
