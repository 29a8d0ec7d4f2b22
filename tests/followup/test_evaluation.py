"""From stored follow-up rows to RECIST and Choi (no database): which lesions are targets, which
new lesions count. Expected values worked out by hand from RECIST 1.1 (Eisenhauer et al. 2009).
"""

from __future__ import annotations

import datetime as dt

import pytest

from gistcad.domain import LesionOrgan, LesionRole, ResponseCategory
from gistcad.followup.evaluation import Key, evaluate
from gistcad.store.followup import FollowupPatient, FollowupRows, LesionRow, Measured, TimepointRow

BASELINE, FOLLOW_UP = 10, 11
TIMEPOINTS = [
    TimepointRow(BASELINE, 0, dt.date(2024, 1, 10), 0),
    TimepointRow(FOLLOW_UP, 1, dt.date(2024, 4, 10), 91),
]
LIVER, NODE = LesionOrgan.LIVER, LesionOrgan.LYMPH_NODE


def _rows(*lesions: LesionRow) -> FollowupRows:
    return FollowupRows(FollowupPatient(1, "P-001", "Alpha"), TIMEPOINTS, list(lesions))


def _mm(longest: float, short: float | None = None) -> Measured:
    return Measured(longest, short, None, 60.0)


@pytest.mark.parametrize("stored", [LesionRole.TARGET, LesionRole.NON_TARGET])
def test_targets_are_chosen_by_recist_whatever_role_the_store_holds(stored: LesionRole) -> None:
    # Liver 40, 30 and 20 mm and a node 12 mm long, 8 mm short axis. RECIST 1.1: at most two
    # targets per organ, a node measurable from 15 mm short axis: the targets are the liver's
    # 40 and 30 mm (70 mm); the 20 mm liver lesion and the node are non-targets. Follow-up
    # 26 + 21 = 47 mm: -33 % (<= -30 %): PR by RECIST, and by Choi (size <= -10 %), although
    # the third liver lesion grew to 35 mm (non-target: no unequivocal progression is read).
    rows = _rows(
        *(LesionRow(n, n, LIVER, stored, False, BASELINE) for n in (1, 2, 3)),
        LesionRow(4, 4, NODE, stored, True, BASELINE),
    )
    sizes: dict[Key, Measured] = {
        (1, BASELINE): _mm(40),
        (2, BASELINE): _mm(30),
        (3, BASELINE): _mm(20),
        (4, BASELINE): _mm(12, 8),
        (1, FOLLOW_UP): _mm(26),
        (2, FOLLOW_UP): _mm(21),
        (3, FOLLOW_UP): _mm(35),
        (4, FOLLOW_UP): _mm(12, 8),
    }
    out = evaluate(rows, sizes)
    assert out.roles == {
        1: LesionRole.TARGET,
        2: LesionRole.TARGET,
        3: LesionRole.NON_TARGET,
        4: LesionRole.NON_TARGET,
    }
    (by_recist,), (by_choi,) = out.recist, out.choi
    assert by_recist.category is ResponseCategory.PARTIAL
    assert by_recist.reason == "sum of diameters −33 % from baseline (70 mm → 47 mm)"
    assert by_choi.category is ResponseCategory.PARTIAL
    assert by_choi.size_change == pytest.approx((47 - 70) / 70)


def test_a_new_node_below_10_mm_short_axis_is_no_new_lesion() -> None:
    # Target liver lesion 40 mm, unchanged (SD). A node first outlined at follow-up 1, 8 mm
    # long and 6 mm short axis, is normal (RECIST 1.1, 3.1): no progression by either criteria.
    # The same node at 10 mm short axis is a new lesion: PD by both.
    rows = _rows(
        LesionRow(1, 1, LIVER, LesionRole.NON_TARGET, False, BASELINE),
        LesionRow(5, 5, NODE, LesionRole.NEW, True, FOLLOW_UP),
    )
    base: dict[Key, Measured] = {(1, BASELINE): _mm(40), (1, FOLLOW_UP): _mm(40)}
    out = evaluate(rows, {**base, (5, FOLLOW_UP): _mm(8, 6)})
    assert out.roles[5] is LesionRole.NEW and out.visits[1].new_lesions == ()
    assert [a.category for a in (*out.recist, *out.choi)] == [ResponseCategory.STABLE] * 2
    out = evaluate(rows, {**base, (5, FOLLOW_UP): _mm(14, 10)})
    assert [(a.category, a.reason) for a in (*out.recist, *out.choi)] == [
        (ResponseCategory.PROGRESSION, "new lesion (lymph node)")
    ] * 2


def test_lesion_ids_and_numbers_are_not_confused() -> None:
    # In the store a lesion's id is a database key and its number is its place within the
    # patient; here the baseline lesion number 1 has id 7 and the new lesion number 2 has id 1.
    # The baseline lesion is the target (40 → 40 mm); the new liver lesion makes a PD.
    rows = _rows(
        LesionRow(7, 1, LIVER, LesionRole.NON_TARGET, False, BASELINE),
        LesionRow(1, 2, LIVER, LesionRole.NEW, False, FOLLOW_UP),
    )
    out = evaluate(rows, {(7, BASELINE): _mm(40), (7, FOLLOW_UP): _mm(40), (1, FOLLOW_UP): _mm(15)})
    assert out.roles == {7: LesionRole.TARGET, 1: LesionRole.NEW}
    (by_recist,) = out.recist
    assert (by_recist.category, by_recist.size_mm) == (ResponseCategory.PROGRESSION, 40.0)
