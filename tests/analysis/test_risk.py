"""NIH 2002, AFIP 2006 and modified NIH 2008 against their published tables.

Expected values are copied from the project's domain-fact sheet (gist_facts.md, section 3),
which reproduces:
- Fletcher et al., Hum Pathol 2002;33:459 (NIH 2002), via GIST Support International;
- Miettinen & Lasota, Semin Diagn Pathol 2006;23:70 (AFIP), via NCCN, NCI PDQ and Hindawi
  ISRN 2012 Table 2, in the original column order (see the NCCN test below);
- Joensuu, Hum Pathol 2008;39:1411 (modified NIH), via the Kobe University page.
The reference vectors are section 3.4 of that sheet (derived from the tables).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gistcad.analysis.afip import AFIP_TABLE, AfipColumn, AfipColumnLabelling
from gistcad.analysis.risk import (
    ModifiedNihReading,
    RiskOptions,
    afip_group,
    classify,
    classify_all,
    classify_many,
)
from gistcad.domain import MitosisUnit, RiskClass, RiskScheme, Site
from gistcad.errors import ValidationError

HPF = MitosisUnit.PER_50_HPF
NIH, AFIP, MNIH = RiskScheme.NIH_2002, RiskScheme.AFIP_2006, RiskScheme.MODIFIED_NIH_2008
VL, L, I, M, H = (  # noqa: E741 - the tables' own abbreviations
    RiskClass.VERY_LOW,
    RiskClass.LOW,
    RiskClass.INTERMEDIATE,
    RiskClass.MODERATE,
    RiskClass.HIGH,
)
NONE, ID = RiskClass.NONE, RiskClass.INSUFFICIENT_DATA

# A representative size (cm) and count (/50 HPF) inside every band.
SIZES = {"<=2": 1.5, "2.1-5": 3.0, "5.1-10": 7.0, ">10": 12.0}
COUNTS = {"<=5": 3, "6-10": 8, ">10": 15}


def _risk(scheme: RiskScheme, site: Site, size: float, mitoses: float, **kwargs) -> RiskClass:
    return classify(scheme, site=site, size_cm=size, mitoses=mitoses, unit=HPF, **kwargs).risk_class


# --- section 3.4 reference vectors ---------------------------------------------------------

REFERENCE_VECTORS = [
    # site, size, mitoses, NIH, (AFIP class, %), modified NIH (Joensuu 2008 as printed)
    (Site.STOMACH, 3, 3, L, (VL, 1.9), L),
    (Site.STOMACH, 7, 3, I, (L, 3.6), I),
    (Site.JEJUNUM_ILEUM, 7, 3, I, (M, 24.0), H),
    (Site.STOMACH, 4, 8, I, (M, 16.0), I),
    (Site.JEJUNUM_ILEUM, 4, 8, I, (H, 73.0), H),  # "ileum"
    (Site.STOMACH, 12, 2, H, (M, 10.0), H),
    (Site.STOMACH, 1.5, 8, I, (NONE, 0.0), I),
    (Site.RECTUM, 1.5, 8, I, (H, 54.0), I),
    (Site.DUODENUM, 7, 3, I, (ID, None), H),
]


@pytest.mark.parametrize(("site", "size", "mitoses", "nih", "afip", "mnih"), REFERENCE_VECTORS)
def test_reference_vectors(site, size, mitoses, nih, afip, mnih):
    result = classify_all(site=site, size_cm=size, mitoses=mitoses, unit=HPF)
    assert result[NIH].risk_class is nih
    assert (result[AFIP].risk_class, result[AFIP].progression_risk_percent) == afip
    assert result[MNIH].risk_class is mnih
    assert result[NIH].progression_risk_percent is None
    assert result[MNIH].progression_risk_percent is None


def test_reference_vector_gastric_12cm_12_percent_option():
    options = RiskOptions(afip_gastric_3b_percent=12.0)
    result = classify(AFIP, site=Site.STOMACH, size_cm=12, mitoses=2, unit=HPF, options=options)
    assert (result.risk_class, result.progression_risk_percent) == (M, 12.0)
    assert result.label == "Moderate (12 %)"
    assert any("12 %" in note for note in result.notes)


def test_reference_vector_rectum_ambiguous_cell_follows_the_printed_table():
    # Joensuu, Hum Pathol 2008;39:1411, modified consensus table as printed: the only row
    # that holds a <= 2 cm tumour with 6-10 mitoses is "< 5.0 cm, 6-10 mitoses, any site:
    # intermediate"; "2.1-5.0 cm, > 5 mitoses, non-gastric: high" starts at 2.1 cm.
    # The Kobe University and medicalalgorithms.com reproductions read it high.
    printed = classify(MNIH, site=Site.RECTUM, size_cm=1.5, mitoses=8, unit=HPF)
    assert printed.risk_class is I  # default: the printed table
    assert any("as printed: intermediate" in n and "high (secondary)" in n for n in printed.notes)
    secondary = RiskOptions(modified_nih_reading=ModifiedNihReading.SECONDARY)
    assert _risk(MNIH, Site.RECTUM, 1.5, 8, options=secondary) is H


@pytest.mark.parametrize("site", list(Site))
def test_reference_vector_ruptured_3cm_2_mitoses(site):
    result = classify_all(site=site, size_cm=3, mitoses=2, unit=HPF, rupture=True)
    assert result[NIH].risk_class is L
    assert result[AFIP].risk_class in (VL, L)  # "very low-low": rupture not part of AFIP
    assert result[MNIH].risk_class is H
    assert any("rupture is not part of NIH 2002" in n for n in result[NIH].notes)
    assert any("rupture is not part of AFIP" in n for n in result[AFIP].notes)
    assert not any("rupture" in n for n in result[MNIH].notes)


# --- every cell of NIH 2002 ----------------------------------------------------------------

NIH_CELLS = {
    ("<=2", "<=5"): VL,
    ("<=2", "6-10"): I,
    ("<=2", ">10"): H,
    ("2.1-5", "<=5"): L,
    ("2.1-5", "6-10"): I,
    ("2.1-5", ">10"): H,
    ("5.1-10", "<=5"): I,
    ("5.1-10", "6-10"): H,
    ("5.1-10", ">10"): H,
    (">10", "<=5"): H,
    (">10", "6-10"): H,
    (">10", ">10"): H,
}


@pytest.mark.parametrize(("cell", "expected"), NIH_CELLS.items())
@pytest.mark.parametrize("site", [Site.STOMACH, Site.JEJUNUM_ILEUM, Site.OTHER])
def test_nih_2002_every_cell_ignores_site(cell, expected, site):
    size, count = cell
    assert _risk(NIH, site, SIZES[size], COUNTS[count]) is expected


# --- every cell of AFIP 2006 ---------------------------------------------------------------

AFIP_GROUP_INPUTS = {
    "1": (1.5, 3),
    "2": (3, 3),
    "3a": (7, 3),
    "3b": (12, 3),
    "4": (1.5, 8),
    "5": (3, 8),
    "6a": (7, 8),
    "6b": (12, 8),
}
# group: gastric, jejunum/ileum, duodenum, rectum (Miettinen & Lasota column order)
AFIP_PUBLISHED = {
    "1": ((NONE, 0.0), (NONE, 0.0), (NONE, 0.0), (NONE, 0.0)),
    "2": ((VL, 1.9), (L, 4.3), (L, 8.3), (L, 8.5)),
    "3a": ((L, 3.6), (M, 24.0), (ID, None), (ID, None)),
    "3b": ((M, 10.0), (H, 52.0), (H, 34.0), (H, 57.0)),
    "4": ((NONE, 0.0), (H, 50.0), (ID, None), (H, 54.0)),
    "5": ((M, 16.0), (H, 73.0), (H, 50.0), (H, 52.0)),
    "6a": ((H, 55.0), (H, 85.0), (ID, None), (ID, None)),
    "6b": ((H, 86.0), (H, 90.0), (H, 86.0), (H, 71.0)),
}
AFIP_SITES = (Site.STOMACH, Site.JEJUNUM_ILEUM, Site.DUODENUM, Site.RECTUM)
AFIP_CELLS = [
    (group, site, cell)
    for group, cells in AFIP_PUBLISHED.items()
    for site, cell in zip(AFIP_SITES, cells, strict=True)
]


@pytest.mark.parametrize(("group", "site", "expected"), AFIP_CELLS)
def test_afip_every_cell(group, site, expected):
    size, mitoses = AFIP_GROUP_INPUTS[group]
    assert afip_group(size, mitoses) == group
    result = classify(AFIP, site=site, size_cm=size, mitoses=mitoses, unit=HPF)
    assert (result.risk_class, result.progression_risk_percent) == expected


def test_afip_more_than_10_mitoses_is_the_over_5_row():
    assert afip_group(3, 50) == "5"
    assert _risk(AFIP, Site.STOMACH, 3, 50) is M


def test_afip_group_4_notes_small_number_of_cases():
    result = classify(AFIP, site=Site.STOMACH, size_cm=1.5, mitoses=8, unit=HPF)
    assert result.label == "No risk (0 %)"
    assert any("small number" in note for note in result.notes)


@pytest.mark.parametrize(
    ("site", "size", "mitoses", "label"),
    [
        (Site.STOMACH, 3, 3, "Very low (1.9 %)"),
        (Site.JEJUNUM_ILEUM, 7, 3, "Moderate (24 %)"),
        (Site.DUODENUM, 7, 3, "Insufficient data"),
        (Site.RECTUM, 12, 8, "High (71 %)"),
    ],
)
def test_afip_labels(site, size, mitoses, label):
    assert classify(AFIP, site=site, size_cm=size, mitoses=mitoses, unit=HPF).label == label


def test_afip_nccn_labelling_swaps_duodenum_and_jejunum_ileum():
    """Discrepancy flag: NCCN, the older PDQ and Hindawi print the 4.3 % series under
    duodenum and the 8.3 % series under jejunum/ileum, the reverse of Miettinen & Lasota.
    With NCCN_PDQ labelling the calculator reproduces the NCCN table's cells."""
    nccn = RiskOptions(afip_column_labelling=AfipColumnLabelling.NCCN_PDQ)
    for group, (size, mitoses) in AFIP_GROUP_INPUTS.items():
        gastric, jejunum_ileum, duodenum, rectum = AFIP_PUBLISHED[group]
        for site, expected in [
            (Site.STOMACH, gastric),
            (Site.DUODENUM, jejunum_ileum),
            (Site.JEJUNUM_ILEUM, duodenum),
            (Site.RECTUM, rectum),
        ]:
            got = classify(AFIP, site=site, size_cm=size, mitoses=mitoses, unit=HPF, options=nccn)
            assert (got.risk_class, got.progression_risk_percent) == expected, (group, site)
            assert any("NCCN" in note for note in got.notes)
    # The NCCN group 2 row reads gastric 1.9 | duodenum 4.3 | jejunum/ileum 8.3 | rectum 8.5.
    row = [
        classify(AFIP, site=s, size_cm=3, mitoses=3, unit=HPF, options=nccn)
        for s in (Site.STOMACH, Site.DUODENUM, Site.JEJUNUM_ILEUM, Site.RECTUM)
    ]
    assert [r.progression_risk_percent for r in row] == [1.9, 4.3, 8.3, 8.5]


@pytest.mark.parametrize("site", [Site.COLON, Site.OESOPHAGUS, Site.OTHER])
def test_afip_uncovered_sites_use_jejunum_ileum_by_default(site):
    result = classify(AFIP, site=site, size_cm=7, mitoses=3, unit=HPF)
    assert (result.risk_class, result.progression_risk_percent) == (M, 24.0)
    assert any(f"no {site.value} column" in note for note in result.notes)


def test_afip_uncovered_site_column_is_configurable():
    options = RiskOptions(afip_uncovered_site_column=AfipColumn.RECTUM)
    result = classify(AFIP, site=Site.COLON, size_cm=1.5, mitoses=8, unit=HPF, options=options)
    assert (result.risk_class, result.progression_risk_percent) == (H, 54.0)


def test_afip_gastric_3b_default_is_10_percent_and_noted():
    result = classify(AFIP, site=Site.STOMACH, size_cm=12, mitoses=3, unit=HPF)
    assert result.label == "Moderate (10 %)"
    assert any("10 %" in note and "12 %" in note for note in result.notes)


def test_afip_table_module_constant_matches_published_table():
    for group, cells in AFIP_PUBLISHED.items():
        for index, (published, stored) in enumerate(zip(cells, AFIP_TABLE[group], strict=True)):
            if (group, index) != ("3b", 0):  # gastric 3b comes from the options
                assert published == stored


# --- every cell of modified NIH 2008 -------------------------------------------------------

MODIFIED_NIH_CELLS = {
    # (size, count): (gastric, non-gastric), Joensuu 2008 as printed
    ("<=2", "<=5"): (VL, VL),
    ("<=2", "6-10"): (I, I),  # non-gastric: "< 5.0 cm, 6-10, any site" (secondary: high)
    ("<=2", ">10"): (H, H),
    ("2.1-5", "<=5"): (L, L),
    ("2.1-5", "6-10"): (I, H),
    ("2.1-5", ">10"): (H, H),
    ("5.1-10", "<=5"): (I, H),
    ("5.1-10", "6-10"): (H, H),
    ("5.1-10", ">10"): (H, H),
    (">10", "<=5"): (H, H),
    (">10", "6-10"): (H, H),
    (">10", ">10"): (H, H),
}


@pytest.mark.parametrize(("cell", "expected"), MODIFIED_NIH_CELLS.items())
def test_modified_nih_every_cell(cell, expected):
    size, count = SIZES[cell[0]], COUNTS[cell[1]]
    assert _risk(MNIH, Site.STOMACH, size, count) is expected[0]
    for site in (Site.DUODENUM, Site.JEJUNUM_ILEUM, Site.COLON, Site.RECTUM, Site.OTHER):
        assert _risk(MNIH, site, size, count) is expected[1]


@pytest.mark.parametrize("cell", list(MODIFIED_NIH_CELLS))
@pytest.mark.parametrize("site", [Site.STOMACH, Site.JEJUNUM_ILEUM])
def test_modified_nih_rupture_is_always_high(cell, site):
    assert _risk(MNIH, site, SIZES[cell[0]], COUNTS[cell[1]], rupture=True) is H


def test_modified_nih_secondary_reading_changes_only_the_ambiguous_cell():
    secondary = RiskOptions(modified_nih_reading=ModifiedNihReading.SECONDARY)
    for (size, count), (gastric, non_gastric) in MODIFIED_NIH_CELLS.items():
        expected = H if (size, count) == ("<=2", "6-10") else non_gastric
        assert _risk(MNIH, Site.JEJUNUM_ILEUM, SIZES[size], COUNTS[count], options=secondary) is (
            expected
        )
        assert _risk(MNIH, Site.STOMACH, SIZES[size], COUNTS[count], options=secondary) is gastric
    note = classify(MNIH, site=Site.COLON, size_cm=1, mitoses=6, unit=HPF, options=secondary).notes
    assert any("secondary reading" in n for n in note)
    literal = classify(MNIH, site=Site.COLON, size_cm=1, mitoses=6, unit=HPF).notes
    assert any("literal reading" in n for n in literal)


# --- boundaries (Joensuu convention: <=2.0, 2.1-5.0, 5.1-10.0, >10.0; <=5, 6-10, >10) ----


@pytest.mark.parametrize(
    ("size", "mitoses", "expected"),
    [
        (2.0, 3, VL),  # exactly 2 cm: <= 2.0
        (2.05, 3, L),  # between the printed bands: > 2.0 is the 2.1-5.0 band
        (2.1, 3, L),
        (5.0, 3, L),  # exactly 5 cm: 2.1-5.0
        (5.05, 3, I),
        (10.0, 3, I),  # exactly 10 cm: 5.1-10.0
        (10.05, 3, H),
        (3, 5, L),  # exactly 5 mitoses: <= 5
        (3, 5.5, I),  # fractional count above 5: the 6-10 band
        (3, 6, I),
        (3, 10, I),  # exactly 10 mitoses: 6-10
        (3, 11, H),
        (3, 0, L),
        (0.1, 0, VL),
    ],
)
def test_nih_2002_boundaries(size, mitoses, expected):
    assert _risk(NIH, Site.STOMACH, size, mitoses) is expected


@pytest.mark.parametrize(
    ("size", "mitoses", "group"),
    [
        (2.0, 5, "1"),
        (2.05, 5, "2"),
        (5.0, 5, "2"),
        (5.05, 5, "3a"),
        (10.0, 5, "3a"),
        (10.05, 5, "3b"),
        (2.0, 6, "4"),
        (5.0, 5.5, "5"),
        (10.0, 10, "6a"),
        (10.05, 11, "6b"),
    ],
)
def test_afip_boundaries(size, mitoses, group):
    assert afip_group(size, mitoses) == group


@pytest.mark.parametrize(
    ("site", "size", "mitoses", "expected"),
    [
        (Site.JEJUNUM_ILEUM, 2.0, 5, VL),
        (Site.JEJUNUM_ILEUM, 2.05, 5, L),
        (Site.JEJUNUM_ILEUM, 5.0, 5, L),
        (Site.JEJUNUM_ILEUM, 5.05, 5, H),
        (Site.STOMACH, 5.05, 5, I),
        (Site.STOMACH, 10.0, 5, I),
        (Site.STOMACH, 10.05, 0, H),
        (Site.STOMACH, 5.0, 6, I),
        (Site.STOMACH, 5.0, 10, I),
        (Site.STOMACH, 5.0, 11, H),
        (Site.STOMACH, 5.05, 6, H),
    ],
)
def test_modified_nih_boundaries(site, size, mitoses, expected):
    assert _risk(MNIH, site, size, mitoses) is expected


# --- units and validation ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(RiskScheme))
def test_count_per_5mm2_is_refused_when_the_options_say_so(scheme):
    options = RiskOptions(accept_per_5mm2_as_50hpf=False)
    with pytest.raises(ValidationError, match=r"per 5 mm².*accept_per_5mm2_as_50hpf=False"):
        classify(
            scheme,
            site=Site.STOMACH,
            size_cm=3,
            mitoses=3,
            unit=MitosisUnit.PER_5_MM2,
            options=options,
        )


def test_count_per_5mm2_is_accepted_with_the_same_thresholds_and_noted():
    # WHO Classification of Tumours, Digestive System Tumours, 5th ed. 2019: mitoses per
    # 5 mm², with the thresholds of the per-50-HPF schemes.
    result = classify_all(site=Site.STOMACH, size_cm=3, mitoses=3, unit=MitosisUnit.PER_5_MM2)
    for assessment in result.values():
        assert any("per 5 mm²" in note and "WHO 2019" in note for note in assessment.notes)
    assert result[NIH].risk_class is L
    per_hpf = classify_all(site=Site.RECTUM, size_cm=4, mitoses=8, unit=HPF)
    per_area = classify_all(site=Site.RECTUM, size_cm=4, mitoses=8, unit=MitosisUnit.PER_5_MM2)
    for scheme in RiskScheme:
        assert per_area[scheme].risk_class is per_hpf[scheme].risk_class


@pytest.mark.parametrize("size", [0, -1.0, math.nan, math.inf])
def test_invalid_size_is_refused(size):
    with pytest.raises(ValidationError, match="size_cm"):
        classify(NIH, site=Site.STOMACH, size_cm=size, mitoses=3, unit=HPF)


@pytest.mark.parametrize("mitoses", [-1, math.nan, math.inf])
def test_invalid_mitoses_are_refused(mitoses):
    with pytest.raises(ValidationError, match="mitoses"):
        classify(NIH, site=Site.STOMACH, size_cm=3, mitoses=mitoses, unit=HPF)


def test_unpublished_gastric_3b_value_is_refused():
    with pytest.raises(ValidationError, match="afip_gastric_3b_percent"):
        RiskOptions(afip_gastric_3b_percent=11.0)


def test_options_and_inputs_accept_enum_values_as_strings():
    options = RiskOptions(
        afip_column_labelling="nccn_pdq",
        afip_uncovered_site_column="rectum",
        modified_nih_reading="literal",
    )
    assert options.afip_column_labelling is AfipColumnLabelling.NCCN_PDQ
    result = classify(
        "afip2006", site="duodenum", size_cm=7, mitoses=3, unit="per_50hpf", options=options
    )
    assert (result.scheme, result.risk_class) == (AFIP, M)


def test_classify_all_returns_every_scheme_and_clean_notes_by_default():
    result = classify_all(site=Site.STOMACH, size_cm=3, mitoses=3, unit=HPF)
    assert list(result) == list(RiskScheme)
    assert all(a.scheme is s for s, a in result.items())
    assert all(a.notes == () for a in result.values())
    assert result[NIH].label == "Low"


# --- classify_many: the vectorised classify ------------------------------------------------

GRID_SIZES = (0.5, 2.0, 2.05, 3.0, 5.0, 5.05, 7.0, 10.0, 10.05, 25.0)
GRID_COUNTS = (0, 3, 5, 5.5, 6, 10, 11, 40)
GRID = [
    (site, size, count, rupture)
    for site in Site
    for size in GRID_SIZES
    for count in GRID_COUNTS
    for rupture in (False, True)
]


@pytest.mark.parametrize("scheme", list(RiskScheme))
@pytest.mark.parametrize(
    "options",
    [
        RiskOptions(),
        RiskOptions(
            afip_column_labelling=AfipColumnLabelling.NCCN_PDQ,
            afip_gastric_3b_percent=12.0,
            modified_nih_reading=ModifiedNihReading.LITERAL,
        ),
    ],
)
def test_classify_many_agrees_with_classify_cell_by_cell(scheme, options):
    sites, sizes, counts, ruptures = zip(*GRID, strict=True)
    classes, percents = classify_many(
        scheme, [s.value for s in sites], sizes, counts, ruptures, options=options
    )
    assert classes.shape == percents.shape == (len(GRID),)
    for (site, size, count, rupture), got, percent in zip(GRID, classes, percents, strict=True):
        expected = classify(
            scheme, site=site, size_cm=size, mitoses=count, unit=HPF, rupture=rupture,
            options=options,
        )  # fmt: skip
        assert got is expected.risk_class, (site, size, count, rupture)
        if expected.progression_risk_percent is None:
            assert math.isnan(percent), (site, size, count)
        else:
            assert percent == expected.progression_risk_percent, (site, size, count)


def test_classify_many_accepts_site_members_and_no_rupture():
    classes, percents = classify_many(MNIH, [Site.STOMACH, Site.DUODENUM], [3.0, 7.0], [3, 3])
    assert classes.tolist() == [L, H]
    assert np.isnan(percents).all()
    classes, _ = classify_many(NIH, [], [], [])
    assert classes.shape == (0,)


@pytest.mark.parametrize(
    ("sites", "sizes", "counts", "match"),
    [
        (["stomach", "caecum"], [3.0, 3.0], [3, 3], r"sites\[1\] is 'caecum'; use one of"),
        (["stomach", "stomach"], [3.0, math.nan], [3, 3], r"size_cm\[1\] is nan"),
        (["stomach", "stomach"], [3.0, 0.0], [3, 3], r"size_cm\[1\] is 0\.0"),
        (["stomach", "stomach"], [3.0, 3.0], [-1, 3], r"mitoses\[0\] is -1\.0"),
        (["stomach"], [3.0, 3.0], [3, 3], "one value per tumour"),
    ],
)
def test_classify_many_names_the_invalid_row(sites, sizes, counts, match):
    with pytest.raises(ValidationError, match=match):
        classify_many(NIH, sites, sizes, counts)
