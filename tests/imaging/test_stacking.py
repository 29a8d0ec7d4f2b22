"""Stack checks name the right fault: missing slices versus a spacing that changes."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.imaging.stacking import check_stack

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _positions(z: list[float]) -> np.ndarray:
    return np.array([[0.0, 0.0, v] for v in z])


def test_a_regular_stack_passes() -> None:
    assert check_stack(_positions([2.5 * i for i in range(20)]), AXIAL).problem is None


def test_one_gap_of_twice_the_spacing_is_a_missing_slice() -> None:
    z = [2.5 * i for i in range(21) if i != 7]
    assert "1 slice(s) missing" in (check_stack(_positions(z), AXIAL).problem or "")


@pytest.mark.parametrize(
    "z",
    [
        [2.5 * i for i in range(8)] + [17.5 + 5.0 * i for i in range(1, 6)],  # 2.5 then 5 mm
        [0.0, 2.5, 5.0, 7.5, 10.0, 13.0, 15.5, 18.0],  # one odd gap of 3.0 mm
        [0.0, 1.0, 3.0, 4.0, 6.0, 7.0, 9.0, 10.0, 12.0],  # alternating 1 and 2 mm
    ],
)
def test_a_changing_spacing_is_not_called_missing_slices(z: list[float]) -> None:
    problem = check_stack(_positions(z), AXIAL).problem or ""
    assert "not uniform" in problem and "missing" not in problem
