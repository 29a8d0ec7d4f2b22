"""Timepoints and tracked lesions of a patient, derived from the stored studies and masks.

Called by every importer that adds studies, masks or treatment lines (DICOM, NIfTI masks,
treatment-line sheets), after its rows are in the session; running it again changes nothing.

- **Timepoints**: one per dated study, numbered in date order (0 = the baseline = the first
  study; for this purpose the first CT is the diagnosis), with the days from the start of the
  first line of treatment when lines are known (negative before it). Undated studies (NIfTI,
  WORC) get none.
- **Lesions**: a mask labelled ``lesion <n> [<organ>]`` (SEG SegmentLabel, RTSTRUCT ROIName,
  NIfTI ``<id>_<YYYYMMDD>_lesion<n>_<organ>``) outlines tracked lesion ``n``; the only
  unlabelled mask of a study (e.g. "GIST tumour") is lesion 1, the primary tumour, whose
  organ is the tumour's site. A lesion outlined at baseline is stored ``non_target``: which
  baseline lesions are targets (measurable, at most five, two per organ, nodes by their short
  axis) is the response assessment's choice (:mod:`gistcad.followup.evaluation`), stored when it
  runs; a re-import keeps the stored role. A lesion first outlined after baseline is ``new``
  and must name its organ.

Refused (file and label): a lesion label with an unknown organ, a lesion whose organ differs
between masks, a lesion without organ first seen after baseline, and a first line of treatment
that starts before the first CT.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gistcad.domain import REFERENCE_OUTLINES, LesionOrgan, LesionRole
from gistcad.problems import Problem
from gistcad.store.follow_up_writes import (
    patient_lesions,
    patient_timepoints,
    patient_treatment_lines,
    study_segmentations,
)
from gistcad.store.models import Lesion, Patient, Segmentation, Study, Timepoint

LABEL_TAG = "SegmentLabel (0062,0005) / ROIName (3006,0026)"
_LABEL = re.compile(
    r"^\s*lesion[\s_-]*(?P<number>\d+)(?:[\s_-]+(?P<organ>[a-z][a-z_ -]*?))?\s*$", re.IGNORECASE
)
_RENUMBER_OFFSET = 1000


@dataclass(frozen=True)
class LesionName:
    """What a mask label says of its lesion: its number and, if given, its organ."""

    number: int
    organ: LesionOrgan | None


def parse_lesion_label(label: str) -> LesionName | None:
    """``lesion 2 liver`` → LesionName(2, LIVER); None for a label that names no lesion.

    Raises
    ------
    ValueError
        When the label names a lesion but its organ is not a :class:`LesionOrgan`.
    """
    match = _LABEL.match(label)
    if match is None:
        return None
    number = int(match.group("number"))
    if number < 1:
        raise ValueError(f"lesion numbers start at 1 (got {label!r})")
    text = match.group("organ")
    if text is None:
        return LesionName(number, None)
    key = re.sub(r"[\s-]+", "_", text.strip().lower())
    try:
        return LesionName(number, LesionOrgan(key))
    except ValueError:
        names = ", ".join(o.value for o in LesionOrgan)
        raise ValueError(f"unknown organ {text!r} in {label!r}; use one of {names}") from None


@dataclass
class _Seen:
    first: int  # index of the study where the lesion is first outlined
    organ: LesionOrgan | None
    segmentations: list[tuple[int, Segmentation]]


def link_follow_up(
    session: Session,
    patient: Patient,
    *,
    source_of: Callable[[Segmentation], str],
    source: str,
) -> list[Problem]:
    """(Re)build the patient's timepoints and lesions; problems mean the import is refused.

    Parameters
    ----------
    source_of
        The file a mask came from (for the messages).
    source
        The file or folder being imported (for problems that concern no mask).
    """
    studies = sorted(
        (s for s in patient.studies if s.study_date is not None),
        key=lambda s: (s.study_date, s.study_instance_uid),
    )
    if not studies:
        return []
    lines = patient_treatment_lines(session, patient)
    start = min((line.start_date for line in lines), default=None)
    problems: list[Problem] = []
    first_date = studies[0].study_date
    assert first_date is not None
    if start is not None and start < first_date:
        first = min(lines, key=lambda line: line.start_date)
        problems.append(
            Problem(
                source,
                f"treatment line {first.line} starts on {start.isoformat()}, before the "
                f"patient's first CT (the diagnosis, {first_date.isoformat()}); check the "
                "start date or import the baseline CT",
            )
        )
    timepoints = _timepoints(session, patient, studies, start)
    seen, label_problems = _lesions_seen(session, patient, studies, source_of)
    problems += label_problems
    if problems:
        return problems
    lesions = {lesion.number: lesion for lesion in patient_lesions(session, patient)}
    site = patient.tumours[0].site if patient.tumours else None
    primary = None if site is None else LesionOrgan(site.value)
    for number, info in sorted(seen.items()):
        problem = _link_lesion(
            session, patient, number, info, lesions, timepoints, primary, source_of
        )
        if problem is not None:
            problems.append(problem)
    session.flush()
    return problems


def _timepoints(
    session: Session, patient: Patient, studies: list[Study], start: dt.date | None
) -> list[Timepoint]:
    existing = {tp.study_id: tp for tp in patient_timepoints(session, patient)}
    for tp in existing.values():  # out of the way of the unique (patient, number)
        tp.number += _RENUMBER_OFFSET
    session.flush()
    out = []
    for number, study in enumerate(studies):
        found = existing.get(study.id)
        tp = found or Timepoint(patient_id=patient.id, study_id=study.id, number=number)
        if found is None:
            session.add(tp)
        tp.number = number
        assert study.study_date is not None  # undated studies are left out
        tp.study_date = study.study_date
        tp.days_from_treatment_start = None if start is None else (study.study_date - start).days
        out.append(tp)
    session.flush()
    return out


def _lesions_seen(
    session: Session,
    patient: Patient,
    studies: list[Study],
    source_of: Callable[[Segmentation], str],
) -> tuple[dict[int, _Seen], list[Problem]]:
    seen: dict[int, _Seen] = {}
    problems: list[Problem] = []
    for index, study in enumerate(studies):
        segs = study_segmentations(session, study.id)
        named: list[tuple[Segmentation, LesionName]] = []
        unnamed = []
        for seg in segs:
            try:
                name = parse_lesion_label(seg.label)
            except ValueError as exc:
                problems.append(Problem(source_of(seg), str(exc), tag=LABEL_TAG, value=seg.label))
                continue
            if name is None:
                unnamed.append(seg)
            else:
                named.append((seg, name))
        if len(unnamed) > 1:  # a reader's and a program's: the reader's is the lesion
            by_reader = [seg for seg in unnamed if seg.source in REFERENCE_OUTLINES]
            unnamed = by_reader if len(by_reader) == 1 else unnamed
        if len(unnamed) == 1 and all(name.number != 1 for _, name in named):
            named.append((unnamed[0], LesionName(1, None)))
        for seg, name in named:
            info = seen.setdefault(name.number, _Seen(index, None, []))
            info.segmentations.append((index, seg))
            if name.organ is None:
                continue
            if info.organ is not None and info.organ is not name.organ:
                problems.append(
                    Problem(
                        source_of(seg),
                        f"lesion {name.number} is outlined in the {info.organ.value} on an "
                        f"earlier CT but this mask puts it in the {name.organ.value}: "
                        "renumber the mask or correct its organ",
                        tag=LABEL_TAG,
                        value=seg.label,
                    )
                )
            info.organ = info.organ or name.organ
    return seen, problems


def _link_lesion(
    session: Session,
    patient: Patient,
    number: int,
    info: _Seen,
    lesions: dict[int, Lesion],
    timepoints: list[Timepoint],
    primary: LesionOrgan | None,
    source_of: Callable[[Segmentation], str],
) -> Problem | None:
    lesion = lesions.get(number)
    first_seg = info.segmentations[0][1]
    organ = info.organ or (lesion.organ if lesion else None)
    if organ is None and number == 1 and info.first == 0:
        organ = primary or LesionOrgan.OTHER
    if organ is None:
        when = "after baseline" if info.first > 0 else "at baseline"
        return Problem(
            source_of(first_seg),
            f"lesion {number} is first outlined {when} ({timepoints[info.first].study_date}) "
            f"and its label names no organ, so it matches no known lesion: label it "
            f"'lesion {number} <organ>', e.g. 'lesion {number} liver'",
            tag=LABEL_TAG,
            value=first_seg.label,
        )
    if lesion is not None and lesion.organ is LesionOrgan.OTHER and info.organ is not None:
        lesion.organ = info.organ  # stored before its site was known: the label says where
    if lesion is not None and lesion.organ is not organ:
        return Problem(
            source_of(first_seg),
            f"lesion {number} is stored as a {lesion.organ.value} lesion but this mask puts it "
            f"in the {organ.value}: renumber the mask or correct its organ",
            tag=LABEL_TAG,
            value=first_seg.label,
        )
    if lesion is None:
        lesion = Lesion(patient_id=patient.id, number=number, organ=organ, role=LesionRole.NEW)
        session.add(lesion)
        lesions[number] = lesion
    lesion.is_node = organ is LesionOrgan.LYMPH_NODE
    if info.first > 0:
        lesion.role = LesionRole.NEW
    elif lesion.role is LesionRole.NEW or lesion.id is None:
        lesion.role = LesionRole.NON_TARGET  # target or not: the assessment's choice
    session.flush()
    lesion.first_timepoint_id = timepoints[info.first].id
    for _, seg in info.segmentations:
        seg.lesion_id = lesion.id
    return None
