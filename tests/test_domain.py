"""Every coded value has one label, kept beside its enum, and the pages, the commands and the
printed report print that label."""

from __future__ import annotations

from enum import StrEnum

import pytest

from gistcad import domain
from gistcad.analysis.grouping import RISK_ORDER, risk_groups
from gistcad.analysis.risk import risk_label
from gistcad.analysis.therapy import risk_phrase

#: each labelled enum and its table
LABELLED: list[tuple[type[StrEnum], dict]] = [
    (domain.Sex, domain.SEX_LABELS),
    (domain.Site, domain.SITE_LABELS),
    (domain.GenotypeDetail, domain.GENOTYPE_DETAIL_LABELS),
    (domain.GenotypeGroup, domain.GENOTYPE_GROUP_LABELS),
    (domain.GenotypeClass, domain.GENOTYPE_CLASS_LABELS),
    (domain.MitosisUnit, domain.MITOSIS_UNIT_LABELS),
    (domain.Endpoint, domain.ENDPOINT_LABELS),
    (domain.RiskScheme, domain.RISK_SCHEME_LABELS),
    (domain.RiskClass, domain.RISK_CLASS_LABELS),
    (domain.Grouping, domain.GROUPING_LABELS),
    (domain.StatusSplit, domain.STATUS_SPLIT_LABELS),
    (domain.ModelKind, domain.MODEL_KIND_LABELS),
    (domain.ContrastPhase, domain.CONTRAST_PHASE_LABELS),
]


@pytest.mark.parametrize(("enum", "table"), LABELLED, ids=lambda v: getattr(v, "__name__", ""))
def test_every_member_has_one_distinct_label(enum: type[StrEnum], table: dict) -> None:
    assert set(table) == set(enum), f"{enum.__name__} members without a label"
    labels = [member.label for member in enum]  # type: ignore[attr-defined]
    assert labels == [table[member] for member in enum]
    assert all(label.strip() == label and label for label in labels)
    assert len(set(labels)) == len(labels), f"two {enum.__name__} members share a label"


def test_the_schemes_words_are_the_labels() -> None:
    joensuu = domain.RiskScheme.MODIFIED_NIH_2008
    assert joensuu.label == "Modified NIH 2008"
    assert risk_phrase(joensuu, domain.RiskClass.HIGH) == "Modified NIH 2008 risk: high."
    assert risk_label(domain.RiskClass.INSUFFICIENT_DATA) == "Insufficient data"
    assert RISK_ORDER == ("No risk", "Very low", "Low", "Intermediate", "Moderate", "High")


def test_every_labelled_enum_is_checked() -> None:
    """A new enum with a ``label`` property needs its row in :data:`LABELLED`."""
    with_label = {
        obj
        for obj in vars(domain).values()
        if isinstance(obj, type) and issubclass(obj, StrEnum) and hasattr(obj, "label")
    }
    assert with_label == {enum for enum, _ in LABELLED}


def test_risk_groups_print_the_class_labels() -> None:
    import pandas as pd

    cohort = pd.DataFrame(
        {
            "site": ["duodenum", "stomach"],
            "size_cm": [7.0, 1.0],
            "mitotic_count": [3.0, 1.0],
            "mitotic_unit": ["per_50hpf", "per_50hpf"],
            "rupture": [0, 0],
        }
    )
    groups = risk_groups(cohort, domain.RiskScheme.AFIP_2006)
    assert list(groups) == [
        domain.RiskClass.INSUFFICIENT_DATA.label,
        domain.RiskClass.NONE.label,
    ]


def test_every_model_target_and_class_reads_as_words() -> None:
    from gistcad.modelling.targets import Target

    assert set(domain.MODEL_TARGET_LABELS) == {t.value for t in Target}
    for target in Target:
        assert target.label == domain.MODEL_TARGET_LABELS[target.value]
        assert len(target.class_labels) == len(target.classes)
        for code, label in zip(target.classes, target.class_labels, strict=True):
            assert label != code and "_" not in label, (target, code, label)
    assert Target.KIT11.class_labels == ("Not KIT exon 11", "KIT exon 11")
    assert domain.model_class_label("wt_other") == "Wild-type / other"
    assert domain.model_class_label("Pooled") == "Pooled"  # not a class: left alone
