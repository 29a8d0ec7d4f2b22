"""Per-slice corrections: a painted stroke adds to or erases from one slice only."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.segmentation import add_stroke, erase_stroke


def test_add_paints_one_slice_and_leaves_the_input_alone() -> None:
    mask = np.zeros((4, 5, 3), dtype=np.uint8)
    stroke = np.zeros((4, 5), dtype=bool)
    stroke[1:3, 2] = True
    out = add_stroke(mask, 1, stroke)
    assert out.sum() == 2 and out[1:3, 2, 1].all()
    assert not out[:, :, [0, 2]].any()
    assert mask.sum() == 0


def test_erase_removes_only_the_stroke_from_its_slice() -> None:
    mask = np.ones((4, 5, 3), dtype=bool)
    stroke = np.zeros((4, 5), dtype=bool)
    stroke[0, :] = True
    out = erase_stroke(mask, 2, stroke)
    assert out.sum() == 4 * 5 * 3 - 5
    assert not out[0, :, 2].any() and out[0, :, :2].all()


def test_add_then_erase_the_same_stroke_gives_back_the_mask() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((6, 6, 4)) > 0.5
    stroke = rng.random((6, 6)) > 0.5
    stroke &= ~mask[:, :, 3]
    assert np.array_equal(erase_stroke(add_stroke(mask, 3, stroke), 3, stroke), mask)


@pytest.mark.parametrize(
    ("slice_index", "stroke_shape", "message"),
    [(3, (4, 5), "slice 3 is outside the scan"), (0, (5, 4), "slice of the mask is")],
)
def test_bad_strokes_say_what_is_wrong(
    slice_index: int, stroke_shape: tuple[int, int], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        add_stroke(np.zeros((4, 5, 3)), slice_index, np.ones(stroke_shape))
