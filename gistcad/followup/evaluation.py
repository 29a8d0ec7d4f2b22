"""From a patient's stored follow-up rows to RECIST and Choi: which value counts, which lesion is
a target, what each visit shows.

Rules
-----
- The effective measurement of a lesion at a timepoint is, value by value, the reader's where
  a reader gave one and the automatic one otherwise (both rows are kept in the store).
- A lesion is *new* when its role says so or when it is first seen after the baseline (its
  ``first_timepoint``, else the first timepoint where it measures more than 0 mm); from then on
  every visit counts it as a new lesion in its organ, a lymph node only from the first visit
  where its short axis is >= 10 mm (:func:`gistcad.analysis.response.new_lesion_from`).
- Targets are chosen at every evaluation among the other (baseline) lesions by
  :func:`gistcad.analysis.response.select_targets`, the rest being non-targets, whatever role
  the store holds: the importers store baseline lesions as non-targets, and the stored role is
  only the last assessment's choice (:func:`gistcad.followup.assessment.reassess` stores it).
- New intratumoral nodules and non-target progression are not measured from masks: a reader
  records them by overriding the category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from gistcad.analysis.response import (
    Assessment,
    LesionSize,
    TrackedLesion,
    Visit,
    choi,
    count_new_lesions,
    recist,
    select_targets,
)
from gistcad.domain import LesionRole, MeasurementSource
from gistcad.errors import ValidationError
from gistcad.store.followup import FollowupRows, LesionRow, Measured

#: (lesion id, timepoint id)
Key = tuple[int, int]


def effective(automatic: Measured | None, reader: Measured | None) -> Measured | None:
    """Value by value, the reader's where given, else the automatic one."""
    if reader is None:
        return automatic
    if automatic is None:
        return reader
    return Measured(
        **{
            f.name: (
                getattr(reader, f.name)
                if getattr(reader, f.name) is not None
                else getattr(automatic, f.name)
            )
            for f in fields(Measured)
        }
    )


def by_source(rows: FollowupRows) -> tuple[dict[Key, Measured], dict[Key, Measured]]:
    """The stored automatic and reader measurements, by (lesion id, timepoint id)."""
    automatic: dict[Key, Measured] = {}
    reader: dict[Key, Measured] = {}
    for m in rows.measurements:
        target = reader if m.source is MeasurementSource.READER else automatic
        target[(m.lesion_id, m.timepoint_id)] = m.values
    return automatic, reader


@dataclass(frozen=True)
class Evaluation:
    """One patient's visits and categories as computed from the effective measurements.

    Attributes
    ----------
    lesions
        The tracked lesions with the roles used (``lesion_ids`` maps their numbers to ids).
    roles
        Lesion id to the role used (targets chosen here); differs from the store until the
        assessment stores it.
    visits
        Visit per timepoint, baseline first (``timepoint_ids`` maps their numbers to ids).
    recist, choi
        One assessment per follow-up visit.
    """

    lesions: tuple[TrackedLesion, ...]
    lesion_ids: dict[int, int]
    roles: dict[int, LesionRole]
    visits: tuple[Visit, ...]
    timepoint_ids: dict[int, int]
    recist: tuple[Assessment, ...]
    choi: tuple[Assessment, ...]


def evaluate(rows: FollowupRows, measured: Mapping[Key, Measured]) -> Evaluation:
    """RECIST and Choi of one patient from ``measured`` (the effective measurements).

    Raises
    ------
    ValidationError
        When the patient has no baseline timepoint; the message names the patient.
    """
    who = rows.patient.pseudonym
    numbers = {tp.id: tp.number for tp in rows.timepoints}
    if 0 not in numbers.values():
        raise ValidationError(
            f"{who}: no baseline timepoint (number 0); import the baseline study first"
        )
    first_seen = {
        lesion.id: _first_seen(lesion.id, lesion.first_timepoint_id, rows, measured)
        for lesion in rows.lesions
    }
    new = {
        lesion.id
        for lesion in rows.lesions
        if lesion.role is LesionRole.NEW or (first_seen[lesion.id] or 0) > 0
    }
    measured_visits = [_measured_visit(tp.id, tp.number, rows, measured) for tp in rows.timepoints]
    baseline = [
        _tracked(lesion, LesionRole.NON_TARGET) for lesion in rows.lesions if lesion.id not in new
    ]
    chosen = set(select_targets(baseline, measured_visits[0]))
    roles = {
        lesion.id: LesionRole.NEW
        if lesion.id in new
        else (LesionRole.TARGET if lesion.number in chosen else LesionRole.NON_TARGET)
        for lesion in rows.lesions
    }
    lesions = tuple(_tracked(lesion, roles[lesion.id]) for lesion in rows.lesions)
    seen = {le.number: t for le in rows.lesions if (t := first_seen[le.id]) is not None}
    visits = count_new_lesions(lesions, measured_visits, seen)
    try:
        by_recist, by_choi = recist(lesions, visits), choi(lesions, visits)
    except ValidationError as exc:
        raise ValidationError(f"{who}: {exc}") from None
    return Evaluation(
        lesions=lesions,
        lesion_ids={lesion.number: lesion.id for lesion in rows.lesions},
        roles=roles,
        visits=visits,
        timepoint_ids={tp.number: tp.id for tp in rows.timepoints},
        recist=by_recist,
        choi=by_choi,
    )


def _tracked(lesion: LesionRow, role: LesionRole) -> TrackedLesion:
    return TrackedLesion(lesion.number, lesion.organ, role, lesion.is_node)


def _first_seen(
    lesion_id: int,
    first_timepoint_id: int | None,
    rows: FollowupRows,
    measured: Mapping[Key, Measured],
) -> int | None:
    numbers = {tp.id: tp.number for tp in rows.timepoints}
    if first_timepoint_id is not None and first_timepoint_id in numbers:
        return numbers[first_timepoint_id]
    present = [
        numbers[tp_id]
        for (lid, tp_id), m in measured.items()
        if lid == lesion_id and tp_id in numbers and (m.longest_diameter_mm or 0) > 0
    ]
    return min(present) if present else None


def _measured_visit(
    timepoint_id: int, number: int, rows: FollowupRows, measured: Mapping[Key, Measured]
) -> Visit:
    """The lesions' sizes at one timepoint (no new lesion counted yet)."""
    sizes = {}
    for lesion in rows.lesions:
        m = measured.get((lesion.id, timepoint_id))
        if m is not None:
            sizes[lesion.number] = LesionSize(m.longest_diameter_mm, m.short_axis_mm, m.mean_hu)
    return Visit(number, sizes)
