"""The one reader of the times a user types (``gistcad survival --times``, the Survival page)."""

from __future__ import annotations

import pytest

from gistcad.analysis.cohort_survival import build_request, parse_times
from gistcad.analysis.time_to_event import TimeUnit
from gistcad.errors import ValidationError


@pytest.mark.parametrize(
    "typed",
    [
        "12,36,60",
        "12, 36, 60",
        "12; 36; 60",
        "12 36 60",
        " 60;12 ,36 ",
        "1y, 3y, 5y",
        "1 year 36m 5y",
    ],
)
def test_separators_and_units_are_read_leniently(typed: str) -> None:
    assert parse_times(typed) == (12.0, 36.0, 60.0)


def test_a_time_with_its_unit_is_converted_to_the_unit_asked() -> None:
    # 1 year = 12 months = 365.25 days; 26 weeks = 182 days
    assert parse_times("1y, 18m", TimeUnit.YEARS) == (1.0, 1.5)
    assert parse_times("1y 26w", TimeUnit.DAYS) == (182.0, 365.25)
    assert parse_times("0.5", TimeUnit.YEARS) == (0.5,)
    assert parse_times("24, 24, 12") == (12.0, 24.0)  # sorted, each once


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("abc", "could not read 'abc'"),
        ("12, x", "could not read 'x'"),
        ("-5", "could not read '-5'"),
        ("1 parsec", "could not read '1parsec'"),
        ("nan", "could not read 'nan'"),
        ("", "no time given"),
        (" ; ", "no time given"),
    ],
)
def test_what_cannot_be_read_is_named(typed: str, said: str) -> None:
    with pytest.raises(ValidationError, match="separated by commas, semicolons or spaces") as err:
        parse_times(typed)
    assert said in str(err.value)


def test_the_request_uses_the_same_reader() -> None:
    request = build_request(by="genotype", times="1y; 3y", time_unit="months")
    assert request.times == (12.0, 36.0)
