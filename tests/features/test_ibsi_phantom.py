"""Every IBSI 1 phantom reference value of an implemented family/aggregation must match.

Comparison rule (IBSI): round the computed value to 3 significant digits, then require
``|rounded − reference| ≤ tolerance``. Each CSV row is its own test id.

NOT implemented (listed so that they are visible, not silently skipped):
the 2-D and 2.5-D aggregations of every texture family — GLCM and GLRLM ``2d_avg``,
``2d_s_mrg``, ``2.5d_d_mrg``, ``2.5d_v_mrg``; GLSZM, GLDZM, NGTDM and NGLDM ``2d`` and
``2.5d`` — 272 of the 482 reference values. All 210 3-D / whole-ROI values are tested.
"""

from __future__ import annotations

import csv
import math

import pytest

from gistcad.features import FeatureSettings, extract_features
from tests.features.conftest import IBSI_DIR, Phantom, load_phantom

#: (family, aggregation) pairs of the reference table that gistcad.features computes.
IMPLEMENTED: frozenset[tuple[str, str]] = frozenset(
    {
        ("morphology", ""),
        ("local_intensity", ""),
        ("intensity_statistics", ""),
        ("intensity_histogram", ""),
        ("intensity_volume_histogram", ""),
        ("glcm", "3d_avg"),
        ("glcm", "3d_v_mrg"),
        ("glrlm", "3d_avg"),
        ("glrlm", "3d_v_mrg"),
        ("glszm", "3d"),
        ("gldzm", "3d"),
        ("ngtdm", "3d"),
        ("ngldm", "3d"),
    }
)

#: (family, aggregation) pairs of the reference table that are NOT implemented.
NOT_IMPLEMENTED: frozenset[tuple[str, str]] = frozenset(
    {(family, agg) for family in ("glcm", "glrlm") for agg in ("2d_avg", "2d_s_mrg")}
    | {(family, agg) for family in ("glcm", "glrlm") for agg in ("2.5d_d_mrg", "2.5d_v_mrg")}
    | {(family, agg) for family in ("glszm", "gldzm", "ngtdm", "ngldm") for agg in ("2d", "2.5d")}
)


def _rows() -> list[dict[str, str]]:
    with (IBSI_DIR / "reference_values_all.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()
TESTED = [row for row in ROWS if (row["family"], row["aggregation"]) in IMPLEMENTED]


def round_significant(value: float, digits: int = 3) -> float:
    """Round to ``digits`` significant digits (IBSI comparison rule).

    >>> round_significant(1487.2), round_significant(-0.035549)
    (1490.0, -0.0355)
    """
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


@pytest.fixture(scope="module")
def phantom_features() -> dict[str, float]:
    phantom: Phantom = load_phantom()
    return extract_features(
        phantom.image, phantom.mask, phantom.spacing_mm, FeatureSettings.ibsi_phantom()
    )


@pytest.mark.parametrize("row", TESTED, ids=[row["mirp_feature_name"] for row in TESTED])
def test_reference_value(row: dict[str, str], phantom_features: dict[str, float]) -> None:
    name = row["mirp_feature_name"]
    reference, tolerance = float(row["reference_value"]), float(row["tolerance"])
    value = phantom_features[name]
    rounded = round_significant(value)
    assert abs(rounded - reference) <= tolerance + 1e-12, (
        f"{name}: computed {value!r} → {rounded}, reference {reference} ± {tolerance}"
    )


def test_every_reference_row_is_classified() -> None:
    pairs = {(row["family"], row["aggregation"]) for row in ROWS}
    assert pairs == IMPLEMENTED | NOT_IMPLEMENTED
    assert not IMPLEMENTED & NOT_IMPLEMENTED
    assert len(ROWS) == 482
    assert len(TESTED) == 210
    assert len(ROWS) - len(TESTED) == 272


def test_feature_names_are_the_reference_names(phantom_features: dict[str, float]) -> None:
    """The output names are stable: exactly the IBSI table names of the implemented rows."""
    assert set(phantom_features) == {row["mirp_feature_name"] for row in TESTED}


def test_phantom_sanity(phantom: Phantom) -> None:
    assert phantom.mask.sum() == 74
    assert round(float(phantom.image[phantom.mask].mean()), 2) == 2.15
