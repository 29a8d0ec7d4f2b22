"""Clinical schema: column aliases and the genotype spellings of pathology reports."""

from __future__ import annotations

import pytest

from gistcad.domain import GenotypeDetail as G
from gistcad.errors import ValidationError
from gistcad.ingest.clinical_schema import (
    CLINICAL_COLUMNS,
    canonical_column,
    parse_genotype,
)

SPELLINGS = [
    ("KIT exon 11 p.W557_K558del", G.KIT11_DEL_557_558),
    ("c-KIT ex11 del 557-558", G.KIT11_DEL_557_558),
    ("KIT exon 11 p.K558delinsNP", G.KIT11_DEL_557_558),
    ("KIT exon 11 p.V560_L576del", G.KIT11_DEL_OTHER),
    ("Kit exon 11 deletion", G.KIT11_DEL_OTHER),
    ("KIT exon 11 W557R", G.KIT11_SUBSTITUTION),  # a substitution at 557 is not a deletion
    ("KIT E11 substitution", G.KIT11_SUBSTITUTION),
    ("c-KIT ex11 dup", G.KIT11_DUPLICATION),
    ("KIT exon 11 p.Y578_D579insX", G.KIT11_DUPLICATION),
    ("KIT11", G.KIT11_UNSPECIFIED),
    ("KIT exon 11", G.KIT11_UNSPECIFIED),
    ("KIT exon 9 A502_Y503dup", G.KIT9),
    ("kit9", G.KIT9),
    ("KIT exon 13 K642E", G.KIT13_17),
    ("KIT exon 17 N822K", G.KIT13_17),
    ("PDGFRA exon 18 D842V", G.PDGFRA_D842V),
    ("PDGFRA exon 12 V561D", G.PDGFRA_OTHER),
    ("wild-type (SDH-deficient)", G.WT_SDH_DEFICIENT),
    ("WT NF1", G.WT_NF1),
    ("wild type", G.WT_OTHER),
    ("not tested", G.UNKNOWN),
    ("pdgfra_d842v", G.PDGFRA_D842V),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_genotype_spellings(text: str, expected: G) -> None:
    assert parse_genotype(text) is expected


def test_every_code_reads_as_itself() -> None:
    for detail in G:
        assert parse_genotype(detail.value.upper()) is detail


def test_unrecognised_genotype_lists_the_codes() -> None:
    with pytest.raises(ValidationError, match=r"unrecognised genotype 'BRCA1'.*kit11_del_557_558"):
        parse_genotype("BRCA1")


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("MRN", "patient_id"),
        (" Tumor Size-cm ", "size_cm"),
        ("Gender", "sex"),
        ("Mutation", "genotype"),
        ("recurrence", "rfs_event"),
        ("RFS months", "rfs_months"),
        ("shoe size", None),
    ],
)
def test_column_aliases(header: str, canonical: str | None) -> None:
    assert canonical_column(header) == canonical


def test_aliases_are_unambiguous() -> None:
    names = [n for spec in CLINICAL_COLUMNS for n in (spec.name, *spec.aliases)]
    assert len(names) == len(set(names))
