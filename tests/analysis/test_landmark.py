"""Landmark analysis: who is kept at the landmark, and the restarted clock."""

import numpy as np
import pytest

from gistcad.analysis.landmark import landmark
from gistcad.errors import ValidationError


def test_landmark_keeps_those_followed_beyond_it_and_restarts_the_clock() -> None:
    result = landmark([1, 2, 3, 5, 8], [1, 0, 1, 1, 0], landmark_time=3)
    # 1 (event), 2+ (censored) and 3 (event at the landmark) are not event-free beyond t = 3.
    np.testing.assert_array_equal(result.mask, [False, False, False, True, True])
    np.testing.assert_array_equal(result.durations, [2, 5])
    np.testing.assert_array_equal(result.event_observed, [True, False])
    assert result.landmark_time == 3.0


def test_landmark_rejects_bad_times() -> None:
    with pytest.raises(ValidationError, match="landmark_time must be finite and ≥ 0"):
        landmark([1, 2], [1, 0], landmark_time=-1)
    with pytest.raises(ValidationError, match="choose an earlier landmark"):
        landmark([1, 2], [1, 0], landmark_time=2)
