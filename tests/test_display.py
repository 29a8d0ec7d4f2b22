"""Tables as users read them: labels for codes and columns, "—" for a missing value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistcad.display import MISSING, cell_text, code_labels, column_label, display_table
from gistcad.domain import (
    GENOTYPE_DETAIL_LABELS,
    MITOSIS_UNIT_LABELS,
    RISK_SCHEME_LABELS,
    SITE_LABELS,
    GenotypeDetail,
    MitosisUnit,
    RiskScheme,
    Site,
)


def test_every_label_table_of_the_domain_is_used() -> None:
    labels = code_labels()
    assert labels["jejunum_ileum"] == SITE_LABELS[Site.JEJUNUM_ILEUM]
    assert labels["kit11_del_557_558"] == GENOTYPE_DETAIL_LABELS[GenotypeDetail.KIT11_DEL_557_558]
    assert labels["joensuu2008"] == RISK_SCHEME_LABELS[RiskScheme.MODIFIED_NIH_2008]
    assert labels["per_50hpf"] == MITOSIS_UNIT_LABELS[MitosisUnit.PER_50_HPF]
    assert "wt_sdh_deficient" in labels


def test_a_cohort_table_reads_in_words() -> None:
    table = pd.DataFrame(
        {
            "pseudonym": ["P-1", "P-2"],
            "site": ["jejunum_ileum", None],
            "genotype_detail": ["kit11_del_557_558", "wt_sdh_deficient"],
            "mitotic_unit": ["per_50hpf", "per_5mm2"],
            "size_cm": [4.5, np.nan],
            "n_series": [1, 2],
        }
    )
    shown = display_table(table)
    assert list(shown.columns) == [
        "Pseudonym",
        "Site",
        "Mutation",
        "Mitosis count per",
        "Size (cm)",
        "CT series",
    ]
    assert list(shown["Site"]) == ["Jejunum/ileum", MISSING]
    assert shown["Mutation"][0] == "KIT exon 11 deletion of codons 557/558"
    assert shown["Mitosis count per"][0] == MITOSIS_UNIT_LABELS[MitosisUnit.PER_50_HPF]
    assert list(shown["Size (cm)"]) == ["4.5", MISSING]  # a column with a gap reads as text
    assert shown["CT series"].dtype.kind == "i"  # one without keeps its numbers
    assert list(shown["Pseudonym"]) == ["P-1", "P-2"]
    assert table.columns[0] == "pseudonym"  # the input is left alone


def test_survival_summary_columns() -> None:
    assert column_label("median_ci_lower") == "Median, 95 % CI lower"
    assert column_label("median_text") == "Median (95 % CI)"
    assert column_label("survival_at_60") == "Survival at 60"
    assert column_label("survival_at_2.5_ci_upper") == "Survival at 2.5, 95 % CI upper"
    assert column_label("some_new_column") == "Some new column"  # never the raw name
    assert column_label("Alpha (n=30)") == "Alpha (n=30)"


def test_missing_values_of_every_kind() -> None:
    for missing in (None, float("nan"), pd.NA, pd.NaT, np.nan):
        assert cell_text(missing) == MISSING
    assert cell_text(Site.STOMACH) == SITE_LABELS[Site.STOMACH]
    assert cell_text("Beta") == "Beta" and cell_text(3) == 3
