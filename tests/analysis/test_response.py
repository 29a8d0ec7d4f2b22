"""RECIST 1.1 and Choi against hand-made cases built from the published rules.

Every expected category, sum and percentage below is worked out by hand from Eisenhauer et al.
2009 (RECIST 1.1) and Choi et al. 2007, not taken from running the code.
"""

from __future__ import annotations

import pytest

from gistcad.analysis.response import (
    LesionSize,
    TrackedLesion,
    Visit,
    best_response,
    choi,
    count_new_lesions,
    new_lesion_from,
    percent,
    recist,
    select_targets,
)
from gistcad.domain import LesionOrgan, LesionRole, ResponseCategory, ResponseCriteria
from gistcad.errors import ValidationError

CR, PR, SD, PD, NE = (
    ResponseCategory.COMPLETE,
    ResponseCategory.PARTIAL,
    ResponseCategory.STABLE,
    ResponseCategory.PROGRESSION,
    ResponseCategory.NOT_EVALUABLE,
)
NON_CR_NON_PD = ResponseCategory.NON_CR_NON_PD
LIVER, STOMACH, NODE = LesionOrgan.LIVER, LesionOrgan.STOMACH, LesionOrgan.LYMPH_NODE


def _visits(
    *sums: tuple[float, ...], hu: tuple[tuple[float, ...], ...] | None = None
) -> list[Visit]:
    """Visits 0, 1, ... with lesion i measured at ``sums[v][i]`` mm (and HU if given)."""
    out = []
    for v, diameters in enumerate(sums):
        sizes = {
            i + 1: LesionSize(d, mean_hu=None if hu is None else hu[v][i])
            for i, d in enumerate(diameters)
        }
        out.append(Visit(v, sizes))
    return out


ONE = [TrackedLesion(1, LIVER)]
TWO = [TrackedLesion(1, LIVER), TrackedLesion(2, STOMACH)]


def _categories(assessments: tuple[object, ...]) -> list[ResponseCategory]:
    return [a.category for a in assessments]  # type: ignore[attr-defined]


# --- RECIST 1.1 -----------------------------------------------------------------------------


def test_recist_partial_response_is_30_percent_below_baseline_inclusive() -> None:
    # baseline 50 + 50 = 100 mm; 70 mm is -30 % exactly: PR; 71 mm is -29 %: SD
    out = recist(TWO, _visits((50, 50), (35, 35), (36, 35)))
    assert _categories(out) == [PR, SD]
    assert out[0].size_mm == 70
    assert out[0].size_change == pytest.approx(-0.30)
    assert out[0].reason == "sum of diameters −30 % from baseline (100 mm → 70 mm)"
    assert out[0].criteria is ResponseCriteria.RECIST_1_1


def test_recist_progression_at_20_percent_and_5_mm_exactly() -> None:
    # nadir = baseline 50 mm; 60 mm is +20 % and +10 mm: PD; 59 mm is +18 %: SD
    assert _categories(recist(ONE, _visits((50,), (59,)))) == [SD]
    out = recist(ONE, _visits((50,), (60,)))
    assert _categories(out) == [PD]
    assert out[0].reason == "sum of diameters +20 % from the nadir (50 mm → 60 mm, +10 mm)"


def test_recist_plus_20_percent_but_under_5_mm_is_not_progression() -> None:
    # baseline 20 mm, 24 mm = +20 % but +4 mm: SD; 25 mm = +25 % and +5 mm: PD
    out = recist(ONE, _visits((20,), (24,), (25,)))
    assert _categories(out) == [SD, PD]
    assert "+20 % from the nadir but only +4 mm (< 5 mm)" in out[0].reason


def test_recist_progression_is_measured_from_the_nadir_not_the_baseline() -> None:
    # baseline 100, then 60 (PR, -40 %), then 75: +25 % from the nadir 60 (+15 mm) -> PD,
    # although it is still 25 % below the baseline
    out = recist(ONE, _visits((100,), (60,), (75,)))
    assert _categories(out) == [PR, PD]
    assert out[1].size_change == pytest.approx(-0.25)
    assert "from the nadir (60 mm → 75 mm, +15 mm)" in out[1].reason


def test_recist_reappearance_after_complete_response_is_progression() -> None:
    # 30 mm, then gone (CR, nadir 0 mm), then 4 mm: back, although by less than 5 mm
    out = recist(ONE, _visits((30,), (0,), (4,)))
    assert _categories(out) == [CR, PD]
    assert out[1].reason == "target disease reappeared after a complete response (4 mm)"


def test_a_target_reappearing_after_a_nadir_of_0_mm_without_cr_is_added_back() -> None:
    # RECIST 1.1 FAQ. Target 1 (50 mm) gone at visit 1 while non-target 3 remains: PR, nadir
    # 0 mm without CR. Visit 2: 3 mm, +3 mm from the nadir (< 5 mm): no PD; 3 mm is -94 % from
    # 50 mm: PR. Visit 3: 5 mm, +5 mm (>= 5 mm, and any growth is >= 20 % of 0 mm): PD.
    lesions = [TrackedLesion(1, LIVER), TrackedLesion(3, STOMACH, role=LesionRole.NON_TARGET)]
    visits = [Visit(n, {1: LesionSize(d), 3: LesionSize(8)}) for n, d in enumerate((50, 0, 3, 5))]
    out = recist(lesions, visits)
    assert _categories(out) == [PR, PR, PD]
    assert out[1].reason == (
        "sum of diameters −94 % from baseline (50 mm → 3 mm); reappeared after 0 mm at the "
        "nadir (no CR then), only +3 mm (< 5 mm)"
    )
    assert out[2].reason == "target disease reappeared: sum of diameters 0 mm at the nadir → 5 mm"


def test_a_target_reappearing_after_a_cr_at_the_nadir_is_progression() -> None:
    # nadir 0 mm reached at visit 1 with non-target disease left (PR), then at visit 2 with it
    # gone (CR): the response at the nadir is a CR, so 3 mm at visit 3 is PD
    lesions = [TrackedLesion(1, LIVER), TrackedLesion(3, STOMACH, role=LesionRole.NON_TARGET)]
    visits = [
        Visit(0, {1: LesionSize(50), 3: LesionSize(8)}),
        Visit(1, {1: LesionSize(0), 3: LesionSize(8)}),
        Visit(2, {1: LesionSize(0), 3: LesionSize(0)}),
        Visit(3, {1: LesionSize(3), 3: LesionSize(0)}),
    ]
    out = recist(lesions, visits)
    assert _categories(out) == [PR, CR, PD]
    assert out[2].reason == "target disease reappeared after a complete response (3 mm)"


def test_recist_nadir_includes_the_baseline() -> None:
    # baseline 40 is the smallest sum: 48 is +20 % and +8 mm from it -> PD
    assert _categories(recist(ONE, _visits((40,), (44,), (48,)))) == [SD, PD]


def test_a_new_lesion_is_progression_whatever_the_sum() -> None:
    visits = _visits((100,), (40,))
    visits[1] = Visit(1, visits[1].sizes, new_lesions=(LIVER,))
    out = recist(ONE, visits)
    assert _categories(out) == [PD]
    assert out[0].reason == "new lesion (liver)"
    assert _categories(choi(ONE, visits)) == [PD]


def test_unequivocal_non_target_progression_is_recist_progression() -> None:
    visits = [
        Visit(0, {1: LesionSize(50)}),
        Visit(1, {1: LesionSize(50)}, non_target_progression=True),
    ]
    out = recist(ONE, visits)
    assert _categories(out) == [PD]
    assert out[0].reason == "unequivocal progression of non-target disease"


def test_recist_complete_response_needs_every_lesion_gone_and_nodes_below_10_mm() -> None:
    lesions = [
        TrackedLesion(1, LIVER),
        TrackedLesion(2, NODE, is_node=True),
        TrackedLesion(3, STOMACH, role=LesionRole.NON_TARGET),
    ]
    base = {1: LesionSize(30), 2: LesionSize(25, short_axis_mm=18), 3: LesionSize(8)}
    gone = {1: LesionSize(0), 2: LesionSize(12, short_axis_mm=9.5), 3: LesionSize(0)}
    node_left = {1: LesionSize(0), 2: LesionSize(14, short_axis_mm=10), 3: LesionSize(0)}
    non_target_left = {1: LesionSize(0), 2: LesionSize(12, short_axis_mm=9), 3: LesionSize(6)}
    out = recist(lesions, [Visit(0, base), Visit(1, gone), Visit(2, node_left)])
    # visit 1: the node at 9.5 mm short axis counts as normal, the sum is 9.5 mm (not 0)
    assert [a.category for a in out] == [CR, PR]
    assert out[0].size_mm == pytest.approx(9.5)
    # visit 2: a node of 10 mm short axis is not normal: sum 10 mm = -79 % from 48 mm: PR
    assert out[1].size_change == pytest.approx((10 - 48) / 48)
    out = recist(lesions, [Visit(0, base), Visit(1, non_target_left)])
    assert out[0].category is PR
    assert "non-target disease remains" in out[0].reason


def test_nodes_are_summed_by_their_short_axis() -> None:
    lesions = [TrackedLesion(1, LIVER), TrackedLesion(2, NODE, is_node=True)]
    base = {1: LesionSize(40), 2: LesionSize(30, short_axis_mm=20)}  # sum 60 mm, not 70
    later = {1: LesionSize(28), 2: LesionSize(30, short_axis_mm=14)}  # sum 42 mm: -30 %
    out = recist(lesions, [Visit(0, base), Visit(1, later)])
    assert out[0].category is PR
    assert out[0].reason == "sum of diameters −30 % from baseline (60 mm → 42 mm)"


def test_an_unmeasured_target_is_not_evaluable_unless_a_new_lesion_is_progression() -> None:
    base, later = Visit(0, {1: LesionSize(30), 2: LesionSize(20)}), Visit(1, {1: LesionSize(10)})
    out = recist(TWO, [base, later])
    assert out[0].category is NE and out[0].reason == "target lesion 2 not measured"
    assert choi(TWO, [base, later])[0].category is NE
    new = Visit(1, later.sizes, new_lesions=(LIVER, LesionOrgan.PERITONEUM))
    assert recist(TWO, [base, new])[0].reason == "2 new lesions (liver, peritoneum)"


def test_a_missing_target_is_progression_when_the_measured_ones_already_are() -> None:
    # RECIST 1.1, 4.3.1 (missing assessments). Baseline 20 + 15 + 15 = 50 mm; visit 1: lesions
    # 1 and 2 alone measure 45 + 35 = 80 mm, +60 % and +30 mm from the nadir (50 mm): PD
    # whatever lesion 3 measures. Their 30 + 25 = 55 mm (+10 %) would decide nothing: NE.
    lesions = [
        TrackedLesion(1, LIVER),
        TrackedLesion(2, STOMACH),
        TrackedLesion(3, LesionOrgan.PERITONEUM),
    ]
    base = Visit(0, {1: LesionSize(20), 2: LesionSize(15), 3: LesionSize(15)})
    out = recist(lesions, [base, Visit(1, {1: LesionSize(45), 2: LesionSize(35)})])[0]
    assert out.category is PD
    assert out.reason == (
        "sum of diameters +60 % from the nadir (50 mm → 80 mm, +30 mm), counting the measured "
        "targets only (target lesion 3 not measured)"
    )
    assert out.size_mm is None  # the sum itself is unknown
    # Choi concludes no PD here: lesion 3's attenuation, unmeasured, could make a PR by density
    with_hu = Visit(0, {n: LesionSize(d, mean_hu=80) for n, d in ((1, 20), (2, 15), (3, 15))})
    grown = Visit(1, {1: LesionSize(45, mean_hu=80), 2: LesionSize(35, mean_hu=80)})
    by_choi = choi(lesions, [with_hu, grown])[0]
    assert (by_choi.category, by_choi.reason) == (NE, "target lesion 3 not measured")
    out = recist(lesions, [base, Visit(1, {1: LesionSize(30), 2: LesionSize(25)})])[0]
    assert (out.category, out.reason) == (NE, "target lesion 3 not measured")


def test_a_missing_target_is_compared_with_the_nadir() -> None:
    # 50 mm, then 12 + 9 + 9 = 30 mm (-40 %, PR, nadir 30 mm), then 20 + 17 = 37 mm with lesion 3
    # missing: +23 % and +7 mm from the nadir: PD (it would be -26 % from baseline)
    lesions = [
        TrackedLesion(1, LIVER),
        TrackedLesion(2, STOMACH),
        TrackedLesion(3, LesionOrgan.PERITONEUM),
    ]
    visits = [
        Visit(0, {1: LesionSize(20), 2: LesionSize(15), 3: LesionSize(15)}),
        Visit(1, {1: LesionSize(12), 2: LesionSize(9), 3: LesionSize(9)}),
        Visit(2, {1: LesionSize(20), 2: LesionSize(17)}),
    ]
    out = recist(lesions, visits)
    assert _categories(out) == [PR, PD]
    assert out[1].reason.startswith("sum of diameters +23 % from the nadir (30 mm → 37 mm, +7 mm)")


def test_an_unmeasured_visit_does_not_set_the_nadir() -> None:
    # baseline 50, visit 1 not measured (NE), visit 2 at 60: +20 % and +10 mm from 50 -> PD
    visits = [Visit(0, {1: LesionSize(50)}), Visit(1, {}), Visit(2, {1: LesionSize(60)})]
    assert _categories(recist(ONE, visits)) == [NE, PD]


def test_non_target_disease_only_follows_recist_table_2() -> None:
    # RECIST 1.1 Table 2: lesion 1 (liver, 8 mm) and node 2 (short axis 12 mm, < 15 mm) are
    # not measurable, so there is no target. Visit 1: both persist: non-CR/non-PD. Visit 2:
    # lesion 1 gone and the node 9 mm short axis (normal, < 10 mm): CR. Visit 3: lesion 1 not
    # assessed: NE. Visit 4: a new lesion: PD. Visit 5: unequivocal progression: PD.
    lesions = [
        TrackedLesion(1, LIVER, role=LesionRole.NON_TARGET),
        TrackedLesion(2, NODE, role=LesionRole.NON_TARGET, is_node=True),
    ]
    present = {1: LesionSize(8), 2: LesionSize(16, short_axis_mm=12)}
    visits = [
        Visit(0, present),
        Visit(1, present),
        Visit(2, {1: LesionSize(0), 2: LesionSize(11, short_axis_mm=9)}),
        Visit(3, {2: LesionSize(11, short_axis_mm=9)}),
        Visit(4, present, new_lesions=(LIVER,)),
        Visit(5, present, non_target_progression=True),
    ]
    out = recist(lesions, visits)
    assert _categories(out) == [NON_CR_NON_PD, CR, NE, PD, PD]
    assert [a.reason for a in out[:3]] == [
        "non-target disease only; it persists, without new lesion or unequivocal progression",
        "non-target disease only; all of it disappeared",
        "non-target disease only; non-target lesion 1 not assessed",
    ]
    assert out[0].size_mm is None and out[0].size_change is None
    assert _categories(choi(lesions, visits)) == [NE, NE, NE, PD, NE]  # Choi needs a target


def test_no_lesion_at_baseline_is_not_evaluable() -> None:
    out = recist([], [Visit(0), Visit(1)])[0]
    assert (out.category, out.reason) == (NE, "no lesion at baseline")


def test_target_selection_measurable_largest_first_five_at_most_two_per_organ() -> None:
    lesions = [
        TrackedLesion(1, LIVER),  # 30 mm: third largest in the liver, left out
        TrackedLesion(2, LIVER),  # 50 mm
        TrackedLesion(3, LIVER),  # 40 mm
        TrackedLesion(4, STOMACH),  # 9.9 mm: not measurable
        TrackedLesion(5, STOMACH),  # 10 mm: measurable (>= 10 mm)
        TrackedLesion(6, NODE, is_node=True),  # long 30, short 14.9: not measurable
        TrackedLesion(7, NODE, is_node=True),  # long 20, short 15: measurable, ranked 15
        TrackedLesion(8, LesionOrgan.PERITONEUM),  # 12
        TrackedLesion(9, LesionOrgan.LUNG),  # 11: sixth measurable candidate, left out
        TrackedLesion(10, LesionOrgan.LUNG, role=LesionRole.NEW),  # new: never a target
    ]
    sizes = {
        1: LesionSize(30),
        2: LesionSize(50),
        3: LesionSize(40),
        4: LesionSize(9.9),
        5: LesionSize(10),
        6: LesionSize(30, short_axis_mm=14.9),
        7: LesionSize(20, short_axis_mm=15),
        8: LesionSize(12),
        9: LesionSize(11),
        10: LesionSize(60),
    }
    # ranked: 2 (50), 3 (40), [1 (30): liver full], 7 (15), 8 (12), 9 (11), [5 (10): five chosen]
    assert select_targets(lesions, Visit(0, sizes)) == (2, 3, 7, 8, 9)
    assert select_targets(lesions[3:], Visit(0, sizes)) == (7, 8, 9, 5)


def test_a_new_lymph_node_counts_from_a_short_axis_of_10_mm() -> None:
    # RECIST 1.1, 3.1: a node < 10 mm short axis is normal. Node 5 is first seen at visit 1
    # (short axis 6 mm: normal, no PD), reaches 10 mm at visit 2 (a new lesion: PD), and still
    # counts at visit 3 although back to 7 mm. Target 1 stays at 40 mm (RECIST and Choi SD).
    lesions = [TrackedLesion(1, LIVER), TrackedLesion(5, NODE, LesionRole.NEW, is_node=True)]
    nodes = {1: LesionSize(8, 6), 2: LesionSize(14, 10), 3: LesionSize(9, 7)}
    measured = [Visit(0, {1: LesionSize(40)})] + [
        Visit(n, {1: LesionSize(40), 5: nodes[n]}) for n in (1, 2, 3)
    ]
    assert new_lesion_from(lesions[1], 1, measured) == 2
    visits = count_new_lesions(lesions, measured, {1: 0, 5: 1})
    assert [v.new_lesions for v in visits] == [(), (), (NODE,), (NODE,)]
    by_recist, by_choi = recist(lesions, visits), choi(lesions, visits)
    assert _categories(by_recist) == [SD, PD, PD]
    assert by_recist[1].reason == "new lesion (lymph node)"
    assert _categories(by_choi) == [SD, PD, PD]


def test_a_new_lesion_counts_from_where_it_is_first_seen() -> None:
    # a non-nodal new lesion counts from its first visit, whatever its size; a node measured by
    # its longest diameter only is normal under 10 mm (that bounds its short axis) and counts
    # from 10 mm; a node never measured never counts
    liver = TrackedLesion(2, LIVER, LesionRole.NEW)
    node = TrackedLesion(3, NODE, LesionRole.NEW, is_node=True)
    visits = [
        Visit(0),
        Visit(1, {2: LesionSize(3), 3: LesionSize(9.9)}),
        Visit(2, {2: LesionSize(3), 3: LesionSize(10)}),
    ]
    assert new_lesion_from(liver, 1, visits) == 1
    assert new_lesion_from(node, 1, visits) == 2
    assert new_lesion_from(node, 1, visits[:2]) is None
    assert new_lesion_from(node, 1, [Visit(0), Visit(1), Visit(2)]) is None


# --- Choi ------------------------------------------------------------------------------------


def test_density_drop_alone_is_a_choi_partial_response_but_recist_stable() -> None:
    # size 50 -> 48 mm (-4 %), density 80 -> 62 HU (-22.5 %)
    visits = _visits((50,), (48,), hu=((80,), (62,)))
    by_choi = choi(ONE, visits)[0]
    assert by_choi.category is PR
    assert by_choi.reason == "size −4 %, density −22 %"
    assert by_choi.density_change == pytest.approx(-0.225)
    assert recist(ONE, visits)[0].category is SD


def test_choi_boundaries_10_percent_size_and_15_percent_density() -> None:
    # baseline 100 mm, 100 HU
    def category(size: float, hu: float) -> ResponseCategory:
        return choi(ONE, _visits((100,), (size,), hu=((100,), (hu,))))[0].category

    assert category(90, 100) is PR  # size -10 % exactly
    assert category(91, 100) is SD  # size -9 %
    assert category(100, 85) is PR  # density -15 % exactly
    assert category(100, 86) is SD  # density -14 %
    assert category(110, 100) is PD  # size +10 % exactly
    assert category(109, 100) is SD  # size +9 %
    assert category(120, 80) is PR  # bigger, but the density drop (-20 %) qualifies as PR


def test_choi_size_is_measured_against_the_baseline_not_the_nadir() -> None:
    # 100 -> 60 -> 75 mm: still -25 % from baseline: PR by Choi (RECIST: PD from the nadir)
    visits = _visits((100,), (60,), (75,), hu=((90,), (90,), (90,)))
    assert _categories(choi(ONE, visits)) == [PR, PR]
    assert _categories(recist(ONE, visits)) == [PR, PD]


def test_choi_progression_by_intratumoral_nodules_and_complete_response() -> None:
    visits = _visits((50,), (50,), hu=((80,), (80,)))
    nodules = Visit(1, visits[1].sizes, new_intratumoral_nodules=True)
    out = choi(ONE, [visits[0], nodules])[0]
    assert (out.category, out.reason) == (PD, "new or growing intratumoral nodules")
    gone = Visit(1, {1: LesionSize(0)})
    assert choi(ONE, [visits[0], gone])[0].category is CR
    assert recist(ONE, [visits[0], gone])[0].category is CR


def test_choi_partial_response_needs_no_progression_of_non_measurable_disease() -> None:
    base = Visit(0, {1: LesionSize(50, mean_hu=80)})
    later = Visit(1, {1: LesionSize(40, mean_hu=80)}, non_target_progression=True)
    out = choi(ONE, [base, later])[0]
    assert out.category is SD
    assert "rules out a partial response" in out.reason


def test_choi_density_is_the_mean_of_the_target_lesions_mean_hu() -> None:
    # HU (100 + 60) / 2 = 80 at baseline, (70 + 66) / 2 = 68 later: -15 % exactly -> PR
    out = choi(TWO, _visits((30, 30), (30, 30), hu=((100, 60), (70, 66))))[0]
    assert out.density_hu == pytest.approx(68)
    assert out.density_change == pytest.approx(-0.15)
    assert out.category is PR


def test_choi_without_density_decides_on_size_alone() -> None:
    out = choi(ONE, _visits((50,), (47,)))[0]
    assert (out.category, out.reason) == (SD, "size −6 %, density not measured")


# --- helpers and validation -------------------------------------------------------------------


def test_best_response_and_percent() -> None:
    assert best_response([NE, PR, PD]) is PR
    assert best_response([NE, PD]) is PD
    assert best_response([NON_CR_NON_PD, SD]) is SD
    assert best_response([NE, NON_CR_NON_PD]) is NON_CR_NON_PD
    assert best_response([NON_CR_NON_PD, PD]) is NON_CR_NON_PD
    assert best_response([]) is None
    assert percent(-0.344) == "−34 %"
    assert percent(0.2) == "+20 %"
    assert percent(0.001) == "0 %"


def test_best_response_ignores_the_visits_after_the_first_progression() -> None:
    # RECIST 1.1, 4.4: best response from the start of treatment until progression. 50 mm,
    # then 62 mm (+24 %, +12 mm: PD), then 30 mm (-40 %: PR, after the PD): best PD, not PR
    categories = _categories(recist(ONE, _visits((50,), (62,), (30,))))
    assert categories == [PD, PR]
    assert best_response(categories) is PD
    assert best_response([SD, PD, PR]) is SD
    assert best_response([PD, CR]) is PD


def test_visits_must_start_with_the_baseline_and_targets_be_measured_there() -> None:
    with pytest.raises(ValidationError, match="baseline visit"):
        recist(ONE, [Visit(1, {1: LesionSize(50)})])
    with pytest.raises(ValidationError, match="in order"):
        choi(ONE, [Visit(0, {1: LesionSize(50)}), Visit(2), Visit(1)])
    with pytest.raises(ValidationError, match="target lesion 1 not measured"):
        recist(ONE, [Visit(0, {}), Visit(1, {1: LesionSize(50)})])
