"""Re-segmentation and discretisation (IBSI 2.5, 2.7)."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.features import Discretisation, FeatureSettings
from gistcad.features.discretise import (
    bin_edges,
    discretise,
    fixed_bin_number,
    fixed_bin_width,
    resegment,
)


def test_fixed_bin_width_edges_follow_ibsi() -> None:
    """Bin k covers [X_min + (k−1) w, X_min + k w): an edge value opens the next bin."""
    values = np.array([-100.0, -75.0001, -75.0, -50.0, 399.999, 400.0])
    assert fixed_bin_width(values, 25.0, -100.0).tolist() == [1, 1, 2, 3, 20, 21]
    edges = bin_edges(-100.0, 25.0, 20)
    assert edges[0] == -100.0 and edges[-1] == 400.0 and np.allclose(np.diff(edges), 25.0)


def test_fixed_bin_number_puts_the_maximum_in_the_last_bin() -> None:
    values = np.array([10.0, 12.5, 15.0, 17.5, 20.0])
    assert fixed_bin_number(values, 4).tolist() == [1, 2, 3, 4, 4]
    assert fixed_bin_number(np.full(3, 7.0), 8).tolist() == [1, 1, 1]


def test_lower_bound_is_the_range_start_or_the_roi_minimum() -> None:
    image = np.array([-90.0, -60.0, 10.0, 500.0]).reshape(4, 1, 1)
    mask = np.ones_like(image, dtype=bool)
    ranged = FeatureSettings.ct(25.0, (-100.0, 400.0))
    intensity_mask = resegment(image, mask, ranged.resegment_range)
    assert intensity_mask.ravel().tolist() == [True, True, True, False]
    levels = discretise(image, intensity_mask, ranged)
    assert levels.levels.ravel().tolist() == [1, 2, 5, 0]
    assert levels.intensities[0] == -87.5  # bin centre
    unranged = discretise(image, mask, FeatureSettings.ct(25.0))
    assert unranged.levels.ravel().tolist() == [1, 2, 5, 24]


def test_no_discretisation_keeps_integer_levels_and_rejects_others() -> None:
    image = np.array([1.0, 3.0, 6.0]).reshape(3, 1, 1)
    mask = np.ones_like(image, dtype=bool)
    levels = discretise(image, mask, FeatureSettings.ibsi_phantom())
    assert levels.n_levels == 6 and levels.levels.ravel().tolist() == [1, 3, 6]
    with pytest.raises(ValidationError, match="integer intensities ≥ 1"):
        discretise(image + 0.5, mask, FeatureSettings(discretisation="none"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bin_width": 0.0}, "bin_width"),
        ({"bin_number": 0}, "bin_number"),
        ({"resegment_range": (400.0, -100.0)}, "resegment_range"),
        ({"discretisation": "lloyd_max"}, "unknown feature setting"),
    ],
)
def test_settings_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        FeatureSettings(**kwargs)


def test_settings_accept_strings() -> None:
    settings = FeatureSettings(discretisation="fixed_bin_number", families=["stat"])
    assert settings.discretisation is Discretisation.FIXED_BIN_NUMBER
    assert {f.value for f in settings.families} == {"stat"}
