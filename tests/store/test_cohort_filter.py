"""A cohort filter survives the trip through a shareable link."""

from __future__ import annotations

import pytest

from gistcad.domain import GenotypeGroup, RiskClass, RiskScheme, Site
from gistcad.errors import ValidationError
from gistcad.store.queries import CohortFilter


def test_cohort_filter_round_trips_through_a_link() -> None:
    flt = CohortFilter(
        centers=frozenset({"Alpha", "Beta"}),
        sites=frozenset({Site.RECTUM}),
        genotype_groups=frozenset({GenotypeGroup.KIT9}),
        age_range=(30.0, 70.5),
        size_range_cm=(2.0, 10.0),
        min_follow_up_months=12.0,
        has_scan=False,
        has_prediction_from=3,
        risk_scheme=RiskScheme.AFIP_2006,
        risk_classes=frozenset({RiskClass.INSUFFICIENT_DATA, RiskClass.HIGH, None}),
    )
    query = flt.to_query()
    assert query["risk_scheme"] == "afip2006"
    assert query["risk"] == "high,insufficient_data,unknown"
    assert CohortFilter.from_query(query) == flt
    assert CohortFilter().to_query() == {}


@pytest.mark.parametrize(
    "query",
    [
        {"sites": "liver"},
        {"age_range": "x-1"},
        {"has_scan": "?"},
        {"risk": "grave"},
        {"risk_scheme": "tnm", "risk": "high"},
    ],
)
def test_malformed_links_are_refused(query: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="malformed"):
        CohortFilter.from_query(query)
