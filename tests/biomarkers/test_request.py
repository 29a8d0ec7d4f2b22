"""The discovery request and the clinical adjustment it builds, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from gistcad.biomarkers import Adjustment, DiscoveryRequest, Harmonisation
from gistcad.biomarkers.discovery import adjustment_covariates
from gistcad.domain import Endpoint
from gistcad.errors import ValidationError


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size_cm": [4.0, 12.0, 6.0],
            "mitotic_count": [0.0, 9.0, 3.0],
            "site": ["stomach", "jejunum_ileum", "stomach"],
            "rupture": [0, 1, None],
            "genotype_detail": ["kit11_del_557_558", "pdgfra_d842v", None],
        }
    )


def test_the_risk_adjustment_is_the_schemes_ingredients() -> None:
    covariates, complete = adjustment_covariates(_table(), (Adjustment.RISK,))
    assert list(covariates.columns) == ["log_size", "log_mitoses", "non_gastric", "rupture"]
    assert covariates["log_size"].tolist() == pytest.approx(
        [math.log(4), math.log(12), math.log(6)]
    )
    assert covariates["log_mitoses"].tolist() == pytest.approx([0.0, math.log(10), math.log(4)])
    assert covariates["non_gastric"].tolist() == [0.0, 1.0, 0.0]
    # a missing rupture flag counts as no rupture, as the risk schemes read it
    assert covariates["rupture"].tolist() == [0.0, 1.0, 0.0]
    assert complete.tolist() == [True, True, True]


def test_the_genotype_adjustment_is_indicators_against_kit_exon_11() -> None:
    covariates, complete = adjustment_covariates(_table(), (Adjustment.GENOTYPE,))
    assert list(covariates.columns) == ["genotype_kit9", "genotype_pdgfra", "genotype_wt_other"]
    assert covariates.iloc[0].tolist() == [0.0, 0.0, 0.0]
    assert covariates.iloc[1].tolist() == [0.0, 1.0, 0.0]
    # an untested genotype leaves the patient out of a genotype-adjusted discovery
    assert complete.tolist() == [True, True, False]


def test_the_request_reads_the_command_line_words() -> None:
    request = DiscoveryRequest(
        endpoint="os",  # type: ignore[arg-type]
        adjust=DiscoveryRequest.parse_adjust("genotype, risk,genotype"),
        harmonise="combat",  # type: ignore[arg-type]
    )
    assert request.endpoint is Endpoint.OS
    assert request.adjust == (Adjustment.GENOTYPE, Adjustment.RISK)
    assert request.harmonise is Harmonisation.COMBAT
    assert DiscoveryRequest.parse_adjust("none") == ()


def test_a_bad_request_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="choose from risk, afip, genotype"):
        DiscoveryRequest.parse_adjust("risk,size")
    with pytest.raises(ValidationError, match="FDR must lie between 0 and 1"):
        DiscoveryRequest(fdr=1.5)


def test_the_afip_adjustment_is_the_cells_log_cumulative_hazard() -> None:
    table = pd.DataFrame(
        {
            "size_cm": [3.0, 12.0, 6.0, 1.5, None],
            "mitotic_count": [2.0, 8.0, 3.0, 1.0, 4.0],
            "site": ["stomach", "rectum", "duodenum", "stomach", "stomach"],
            "rupture": [0, 0, 0, 0, 0],
            "genotype_detail": [None] * 5,
        }
    )
    covariates, complete = adjustment_covariates(table, (Adjustment.AFIP,))
    assert list(covariates.columns) == ["afip_log_hazard"]
    # AFIP 2006: gastric 2-5 cm <= 5 mitoses 1.9 %; rectum > 10 cm > 5 mitoses 71 %;
    # duodenum 5-10 cm has insufficient data: jejunum/ileum 5-10 cm <= 5 mitoses, 24 %;
    # gastric <= 2 cm 0 %: floored at 1 %
    expected = [math.log(-math.log(1.0 - p)) for p in (0.019, 0.71, 0.24, 0.01)]
    assert covariates["afip_log_hazard"].iloc[:4].tolist() == pytest.approx(expected)
    assert complete.tolist() == [True, True, True, True, False]
