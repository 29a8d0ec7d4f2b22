"""Tumour response by RECIST 1.1 and by Choi: pure functions of lesion measurements.

A patient's lesions (:class:`TrackedLesion`) are measured at a baseline and at follow-up
timepoints (:class:`Visit`, the baseline first). :func:`recist` and :func:`choi` give one
:class:`Assessment` per follow-up visit: a category and the reason a reader can check
("sum of diameters −34 % from baseline", "density −22 %", "new lesion (liver)").

RECIST 1.1 [RECIST]_
    Target lesions: at most 5, at most 2 per organ, chosen at baseline among the measurable
    ones, largest first (:func:`select_targets`): a lesion is measurable with a longest
    diameter >= 10 mm, a lymph node with a short axis >= 15 mm; a node is measured by its short
    axis, every other lesion by its longest diameter. The sum of these diameters decides:

    - CR: every non-nodal target gone and every nodal target < 10 mm short axis (and, when the
      non-target lesions are measured, they too; otherwise the visit is a PR);
    - PD: the sum >= 20 % above the nadir (the smallest sum so far, baseline included) *and*
      at least 5 mm larger; or any new lesion (a lymph node only from a short axis of 10 mm,
      :func:`new_lesion_from`); or unequivocal progression of non-target disease; or target
      disease reappearing after a complete response (RECIST 1.1 FAQ: after a nadir of 0 mm
      without CR, non-target disease remaining, the reappearing lesion is added back and the
      20 % / 5 mm test applies, here +5 mm from 0 mm);
    - PR: the sum >= 30 % below the baseline sum;
    - SD: otherwise; NE when a target lesion was not measured, unless the measured targets
      alone already make a PD (section 4.3.1, missing assessments).

    With no target lesion (non-target disease only, Table 2): CR when every non-target lesion
    is gone (nodes < 10 mm short axis), PD for a new lesion or unequivocal progression,
    NE when a non-target lesion was not assessed, non-CR/non-PD otherwise.

Choi [Choi]_
    Size is the sum of the longest diameters of the target lesions (nodes too), density the
    mean of their mean attenuations (HU, portal-venous CT), both against the baseline:

    - CR: every lesion gone, no new lesion;
    - PR: size down >= 10 % *or* density down >= 15 %, no new lesion and no obvious progression
      of non-measurable disease;
    - PD: size up >= 10 % without the density decrease of a PR; or a new lesion (as for
      RECIST); or new intratumoral nodules (or growth of existing ones);
    - SD: otherwise; NE when a target lesion's size was not measured, or there is no target.
      Unlike RECIST, a PD is not concluded from the measured targets alone: the unmeasured
      lesion's attenuation could bring the density down by the 15 % of a PR.

Best overall response (:func:`best_response`) is the best category from the start of treatment
until the first progression (RECIST 1.1, section 4.4).

Boundaries are inclusive ("at least 30 %"); a percentage is compared with a tolerance of
:data:`TOLERANCE` so that 60 mm against 50 mm is +20 % exactly, whatever the float rounding.

References
----------
.. [RECIST] Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised
   RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247.
.. [Choi] Choi H et al. Correlation of computed tomography and positron emission tomography in
   patients with metastatic gastrointestinal stromal tumor treated at a single institution with
   imatinib mesylate: proposal of new computed tomography response criteria. J Clin Oncol
   2007;25:1753-1759.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from gistcad.domain import LesionOrgan, LesionRole, ResponseCategory, ResponseCriteria
from gistcad.errors import ValidationError

#: RECIST 1.1 thresholds (Eisenhauer 2009, sections 3.2 and 4.3).
MEASURABLE_MM = 10.0
MEASURABLE_NODE_SHORT_AXIS_MM = 15.0
NORMAL_NODE_SHORT_AXIS_MM = 10.0
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
RECIST_PR = -0.30
RECIST_PD = 0.20
RECIST_PD_ABSOLUTE_MM = 5.0
#: Choi 2007 thresholds.
CHOI_SIZE = 0.10
CHOI_DENSITY = -0.15
#: Tolerance on a relative change (and on mm), so that a boundary case is decided as written.
TOLERANCE = 1e-9

#: Best response first: the order of "best overall response".
BEST_FIRST = (
    ResponseCategory.COMPLETE,
    ResponseCategory.PARTIAL,
    ResponseCategory.STABLE,
    ResponseCategory.NON_CR_NON_PD,
    ResponseCategory.PROGRESSION,
    ResponseCategory.NOT_EVALUABLE,
)


@dataclass(frozen=True)
class TrackedLesion:
    """A lesion followed across visits.

    Attributes
    ----------
    number
        The lesion's number within the patient.
    organ
        Where it lies (at most 2 RECIST targets per organ).
    role
        Target, non-target, or new (absent at baseline).
    is_node
        A lymph node: measured by its short axis under RECIST.
    """

    number: int
    organ: LesionOrgan
    role: LesionRole = LesionRole.TARGET
    is_node: bool = False


@dataclass(frozen=True)
class LesionSize:
    """One lesion measured at one visit (``None``: not measured; 0 mm: gone).

    Attributes
    ----------
    longest_diameter_mm
        Longest axial diameter, mm.
    short_axis_mm
        Longest diameter perpendicular to it in the same slice, mm (nodes).
    mean_hu
        Mean attenuation of the lesion, HU.
    """

    longest_diameter_mm: float | None
    short_axis_mm: float | None = None
    mean_hu: float | None = None


@dataclass(frozen=True)
class Visit:
    """One imaging timepoint: the sizes of the tracked lesions and what else was seen.

    Attributes
    ----------
    number
        0 for the baseline, then in date order.
    sizes
        Lesion number to its measurement; a lesion missing here was not measured.
    new_lesions
        The organs of the new lesions that count at this visit (one entry per lesion; a lymph
        node only from a short axis of 10 mm, see :func:`new_lesion_from`).
    new_intratumoral_nodules
        New intratumoral nodules, or growth of existing ones (Choi progression).
    non_target_progression
        Unequivocal progression of non-target (non-measurable) disease.
    """

    number: int
    sizes: Mapping[int, LesionSize] = field(default_factory=dict)
    new_lesions: tuple[LesionOrgan, ...] = ()
    new_intratumoral_nodules: bool = False
    non_target_progression: bool = False


@dataclass(frozen=True)
class Assessment:
    """The response of one follow-up visit by one set of criteria.

    Attributes
    ----------
    visit
        The visit's number.
    criteria, category, reason
        What was decided and why, in words.
    size_mm
        The sum of diameters (RECIST: short axis for nodes), mm; ``None`` when a target was
        not measured or there is no target.
    size_change
        Its relative change from the baseline sum (-0.34 is 34 % smaller).
    density_hu, density_change
        Mean attenuation of the targets and its relative change from baseline (Choi).
    """

    visit: int
    criteria: ResponseCriteria
    category: ResponseCategory
    reason: str
    size_mm: float | None = None
    size_change: float | None = None
    density_hu: float | None = None
    density_change: float | None = None


def percent(change: float) -> str:
    """``-0.34`` → ``"−34 %"``, ``0.2`` → ``"+20 %"`` (a true minus sign)."""
    value = round(change * 100)
    if value == 0:
        return "0 %"
    return f"{'+' if value > 0 else '−'}{abs(value)} %"


def _mm(value: float) -> str:
    return f"{value:.0f} mm" if abs(value - round(value)) < 0.05 else f"{value:.1f} mm"


def recist_diameter(lesion: TrackedLesion, size: LesionSize | None) -> float | None:
    """The diameter RECIST sums: the short axis of a node, the longest diameter otherwise."""
    if size is None:
        return None
    return size.short_axis_mm if lesion.is_node else size.longest_diameter_mm


def is_measurable(lesion: TrackedLesion, size: LesionSize | None) -> bool:
    """Measurable at baseline: >= 10 mm longest diameter; a node >= 15 mm short axis."""
    diameter = recist_diameter(lesion, size)
    if diameter is None:
        return False
    limit = MEASURABLE_NODE_SHORT_AXIS_MM if lesion.is_node else MEASURABLE_MM
    return diameter >= limit - TOLERANCE


def select_targets(lesions: Iterable[TrackedLesion], baseline: Visit) -> tuple[int, ...]:
    """RECIST 1.1 target lesions at baseline: measurable, largest first, 5 at most, 2 per organ.

    Lesions are ranked by the diameter RECIST measures (short axis for nodes), ties by number;
    a new lesion (absent at baseline) is never a target.

    Returns
    -------
    tuple of int
        The target lesions' numbers, largest first.
    """
    candidates = [
        (lesion, recist_diameter(lesion, baseline.sizes.get(lesion.number)))
        for lesion in lesions
        if lesion.role is not LesionRole.NEW
        and is_measurable(lesion, baseline.sizes.get(lesion.number))
    ]
    candidates.sort(key=lambda c: (-(c[1] or 0.0), c[0].number))
    chosen: list[int] = []
    per_organ: dict[LesionOrgan, int] = {}
    for lesion, _ in candidates:
        if len(chosen) == MAX_TARGETS:
            break
        if per_organ.get(lesion.organ, 0) == MAX_TARGETS_PER_ORGAN:
            continue
        per_organ[lesion.organ] = per_organ.get(lesion.organ, 0) + 1
        chosen.append(lesion.number)
    return tuple(chosen)


def new_lesion_from(lesion: TrackedLesion, first_seen: int, visits: Sequence[Visit]) -> int | None:
    """The visit from which a lesion absent at baseline counts as a new lesion (a progression).

    A new lesion counts from the visit where it is first seen and at every visit after it. A
    lymph node counts only from the first of those visits where its short axis is >= 10 mm:
    a smaller node is normal (RECIST 1.1, section 3.1; Choi counts new lesions alike). When
    only its longest diameter was measured, that bounds the short axis: under 10 mm the node
    is normal, else it counts. A node not measured at a visit does not start the count there.

    Parameters
    ----------
    lesion
        The new lesion (its ``is_node`` decides).
    first_seen
        The number of the visit where it is first seen.
    visits
        The patient's visits in order, with the lesion's sizes.

    Returns
    -------
    int or None
        The visit's number; ``None`` when the lesion never counts (a node that stays normal).
    """
    if not lesion.is_node:
        return first_seen
    for visit in visits:
        size = visit.sizes.get(lesion.number)
        if visit.number < first_seen or size is None:
            continue
        axis = size.longest_diameter_mm if size.short_axis_mm is None else size.short_axis_mm
        if axis is not None and axis >= NORMAL_NODE_SHORT_AXIS_MM - TOLERANCE:
            return visit.number
    return None


def count_new_lesions(
    lesions: Sequence[TrackedLesion], visits: Sequence[Visit], first_seen: Mapping[int, int]
) -> tuple[Visit, ...]:
    """``visits`` with the organ of each new lesion added where it counts (:func:`new_lesion_from`).

    Parameters
    ----------
    lesions
        The patient's lesions; those with role ``NEW`` are counted.
    visits
        The visits in order, with the sizes of the lesions (new lesions included).
    first_seen
        Lesion number to the visit where it is first seen; a new lesion absent here (never
        seen) or first seen at the baseline is not counted.

    Returns
    -------
    tuple of Visit
        The visits, each with the organs of the new lesions that count there appended to its
        ``new_lesions``.
    """
    start = {
        lesion.number: new_lesion_from(lesion, first_seen[lesion.number], visits)
        for lesion in lesions
        if lesion.role is LesionRole.NEW and first_seen.get(lesion.number, 0) > 0
    }
    return tuple(
        replace(
            visit,
            new_lesions=visit.new_lesions
            + tuple(
                lesion.organ
                for lesion in lesions
                if (at := start.get(lesion.number)) is not None and at <= visit.number
            ),
        )
        for visit in visits
    )


def _check(lesions: Sequence[TrackedLesion], visits: Sequence[Visit]) -> list[TrackedLesion]:
    if not visits or visits[0].number != 0:
        raise ValidationError("response needs the baseline visit (number 0) first")
    numbers = [v.number for v in visits]
    if numbers != sorted(set(numbers)):
        raise ValidationError(f"visits must be in order, each once; got {numbers}")
    return [lesion for lesion in lesions if lesion.role is LesionRole.TARGET]


def _new_lesion_reason(visit: Visit) -> str | None:
    if not visit.new_lesions:
        return None
    organs = ", ".join(sorted({o.value.replace("_", " ") for o in visit.new_lesions}))
    word = "new lesion" if len(visit.new_lesions) == 1 else f"{len(visit.new_lesions)} new lesions"
    return f"{word} ({organs})"


def _sum(
    targets: Sequence[TrackedLesion], visit: Visit, *, nodes_by_short_axis: bool
) -> tuple[float | None, list[int]]:
    """The sum of the targets' diameters at ``visit`` and the targets not measured there."""
    total, missing = 0.0, []
    for lesion in targets:
        size = visit.sizes.get(lesion.number)
        diameter = (
            recist_diameter(lesion, size)
            if nodes_by_short_axis
            else (None if size is None else size.longest_diameter_mm)
        )
        if diameter is None:
            missing.append(lesion.number)
        else:
            total += diameter
    return (None if missing else total), missing


def _not_measured(missing: list[int]) -> str:
    which = ", ".join(str(n) for n in missing)
    return f"target lesion{'s' if len(missing) > 1 else ''} {which} not measured"


def _baseline_sum(
    criteria: str, targets: Sequence[TrackedLesion], baseline: Visit, *, nodes_by_short_axis: bool
) -> float:
    """The targets' sum at baseline; refused when a target was not measured or it is 0 mm
    (there is nothing to compare the follow-ups with). 0 when there are no targets."""
    total, missing = _sum(targets, baseline, nodes_by_short_axis=nodes_by_short_axis)
    if targets and (total is None or total <= 0):
        raise ValidationError(
            f"{criteria} needs every target lesion measured at baseline: "
            + (_not_measured(missing) if missing else "the sum is 0 mm")
        )
    return total or 0.0


@dataclass(frozen=True)
class _Nadir:
    """The smallest sum of target diameters so far (mm) and whether a visit at it was a CR."""

    sum_mm: float
    complete_response: bool


def recist(lesions: Sequence[TrackedLesion], visits: Sequence[Visit]) -> tuple[Assessment, ...]:
    """RECIST 1.1 response of every follow-up visit (see the module docstring).

    Parameters
    ----------
    lesions
        The patient's lesions; those with role ``TARGET`` are summed, those with role
        ``NON_TARGET`` decide a CR (and every category when there is no target).
    visits
        The baseline (number 0) first, then the follow-ups in order.

    Returns
    -------
    tuple of Assessment
        One per follow-up visit, in order.
    """
    targets = _check(lesions, visits)
    baseline_sum = _baseline_sum("RECIST", targets, visits[0], nodes_by_short_axis=True)
    nadir, cr_at_nadir = baseline_sum, False
    out = []
    for visit in visits[1:]:
        current, missing = _sum(targets, visit, nodes_by_short_axis=True)
        at = _Nadir(nadir, cr_at_nadir)
        assessment = _recist_visit(lesions, targets, visit, baseline_sum, at, current, missing)
        out.append(assessment)
        if targets and current is not None and current <= nadir:
            was_cr = assessment.category is ResponseCategory.COMPLETE
            cr_at_nadir = was_cr or (current == nadir and cr_at_nadir)
            nadir = current
    return tuple(out)


def _recist_visit(
    lesions: Sequence[TrackedLesion],
    targets: Sequence[TrackedLesion],
    visit: Visit,
    baseline_sum: float,
    nadir: _Nadir,
    current: float | None,
    missing: list[int],
) -> Assessment:
    change = None
    if current is not None and baseline_sum:
        change = (current - baseline_sum) / baseline_sum
    if (new := _new_lesion_reason(visit)) is not None:
        decided = (ResponseCategory.PROGRESSION, new)
    elif visit.non_target_progression:
        decided = (ResponseCategory.PROGRESSION, "unequivocal progression of non-target disease")
    elif not targets:
        decided = _recist_non_target_only(lesions, visit)
    elif current is None:
        decided = _recist_missing(targets, visit, nadir, missing)
    else:
        decided = _recist_by_sum(lesions, targets, visit, baseline_sum, nadir, current)
    size = current if targets else None
    return Assessment(visit.number, ResponseCriteria.RECIST_1_1, *decided, size, change)


def _progression(current: float, nadir: _Nadir) -> str | None:
    """Why a sum of target diameters is a progression from the nadir; ``None`` when it is not.

    PD is >= 20 % and >= 5 mm above the nadir. After a nadir of 0 mm (every target gone),
    RECIST 1.1's FAQ: a target reappearing after a CR is PD whatever its size; when the visit
    at the nadir was no CR (non-target disease remained), the lesion is added back and the
    usual test applies, in which any growth is >= 20 % of 0 mm, so the 5 mm decide.
    """
    growth = current - nadir.sum_mm
    if nadir.sum_mm <= 0 < current and nadir.complete_response:
        return f"target disease reappeared after a complete response ({_mm(current)})"
    if growth < RECIST_PD_ABSOLUTE_MM - TOLERANCE:
        return None
    if nadir.sum_mm <= 0:
        return f"target disease reappeared: sum of diameters 0 mm at the nadir → {_mm(current)}"
    from_nadir = growth / nadir.sum_mm
    if from_nadir < RECIST_PD - TOLERANCE:
        return None
    return (
        f"sum of diameters {percent(from_nadir)} from the nadir "
        f"({_mm(nadir.sum_mm)} → {_mm(current)}, +{_mm(growth)})"
    )


def _recist_missing(
    targets: Sequence[TrackedLesion], visit: Visit, nadir: _Nadir, missing: list[int]
) -> tuple[ResponseCategory, str]:
    """A visit where some targets were not measured: PD when the measured ones alone already
    make one (RECIST 1.1, section 4.3.1, missing assessments), NE otherwise."""
    measured = 0.0
    for lesion in targets:
        diameter = recist_diameter(lesion, visit.sizes.get(lesion.number))
        measured += diameter or 0.0
    why = _progression(measured, nadir)
    if why is None:
        return ResponseCategory.NOT_EVALUABLE, _not_measured(missing)
    return (
        ResponseCategory.PROGRESSION,
        f"{why}, counting the measured targets only ({_not_measured(missing)})",
    )


def _recist_non_target_only(
    lesions: Sequence[TrackedLesion], visit: Visit
) -> tuple[ResponseCategory, str]:
    """RECIST 1.1 Table 2, non-target disease only, at a visit without new lesion or
    unequivocal progression: CR when every non-target lesion is gone (nodes < 10 mm short
    axis), NE when one was not assessed, non-CR/non-PD otherwise."""
    non_targets = [lesion for lesion in lesions if lesion.role is LesionRole.NON_TARGET]
    if not non_targets:
        return ResponseCategory.NOT_EVALUABLE, "no lesion at baseline"
    unassessed = [
        lesion.number
        for lesion in non_targets
        if recist_diameter(lesion, visit.sizes.get(lesion.number)) is None
    ]
    if unassessed:
        which = ", ".join(str(n) for n in unassessed)
        plural = "s" if len(unassessed) > 1 else ""
        return (
            ResponseCategory.NOT_EVALUABLE,
            f"non-target disease only; non-target lesion{plural} {which} not assessed",
        )
    if _non_targets_gone(lesions, visit):
        return ResponseCategory.COMPLETE, "non-target disease only; all of it disappeared"
    return (
        ResponseCategory.NON_CR_NON_PD,
        "non-target disease only; it persists, without new lesion or unequivocal progression",
    )


def _recist_by_sum(
    lesions: Sequence[TrackedLesion],
    targets: Sequence[TrackedLesion],
    visit: Visit,
    baseline_sum: float,
    nadir: _Nadir,
    current: float,
) -> tuple[ResponseCategory, str]:
    """The category of a visit whose targets were all measured and that shows nothing new."""
    if (why := _progression(current, nadir)) is not None:
        return ResponseCategory.PROGRESSION, why
    if _all_targets_gone(targets, visit):
        if _non_targets_gone(lesions, visit):
            return ResponseCategory.COMPLETE, "all target lesions disappeared"
        return (
            ResponseCategory.PARTIAL,
            "all target lesions disappeared; non-target disease remains or was not measured",
        )
    change = (current - baseline_sum) / baseline_sum
    reason = f"sum of diameters {percent(change)} from baseline ({_mm(baseline_sum)} → "
    reason += f"{_mm(current)})"
    growth = current - nadir.sum_mm
    if nadir.sum_mm <= 0 < current:
        reason += f"; reappeared after 0 mm at the nadir (no CR then), only +{_mm(growth)} (< 5 mm)"
    if change <= RECIST_PR + TOLERANCE:
        return ResponseCategory.PARTIAL, reason
    if nadir.sum_mm > 0 and growth / nadir.sum_mm >= RECIST_PD - TOLERANCE:
        reason += (
            f"; {percent(growth / nadir.sum_mm)} from the nadir but only +{_mm(growth)} (< 5 mm)"
        )
    return ResponseCategory.STABLE, reason


def _gone(lesion: TrackedLesion, size: LesionSize | None) -> bool:
    """Disappeared: a lesion at 0 mm; a node below 10 mm short axis (RECIST 1.1, 4.3.1)."""
    if lesion.is_node:
        axis = recist_diameter(lesion, size)
        return axis is not None and axis < NORMAL_NODE_SHORT_AXIS_MM
    return (
        size is not None and size.longest_diameter_mm is not None and size.longest_diameter_mm <= 0
    )


def _all_targets_gone(targets: Sequence[TrackedLesion], visit: Visit) -> bool:
    return all(_gone(lesion, visit.sizes.get(lesion.number)) for lesion in targets)


def _non_targets_gone(lesions: Sequence[TrackedLesion], visit: Visit) -> bool:
    return all(
        _gone(lesion, visit.sizes.get(lesion.number))
        for lesion in lesions
        if lesion.role is LesionRole.NON_TARGET
    )


def _density(targets: Sequence[TrackedLesion], visit: Visit) -> float | None:
    """Mean of the targets' mean HU (lesions still present); ``None`` when one is missing."""
    values = []
    for lesion in targets:
        size = visit.sizes.get(lesion.number)
        if size is not None and size.longest_diameter_mm == 0:
            continue  # gone: no tissue to measure
        if size is None or size.mean_hu is None:
            return None
        values.append(size.mean_hu)
    return sum(values) / len(values) if values else None


def choi(lesions: Sequence[TrackedLesion], visits: Sequence[Visit]) -> tuple[Assessment, ...]:
    """Choi response of every follow-up visit (see the module docstring).

    Parameters
    ----------
    lesions
        The patient's lesions; those with role ``TARGET`` make size and density.
    visits
        The baseline (number 0) first, then the follow-ups in order.

    Returns
    -------
    tuple of Assessment
        One per follow-up visit, in order.
    """
    targets = _check(lesions, visits)
    baseline_size = _baseline_sum("Choi", targets, visits[0], nodes_by_short_axis=False)
    baseline_density = _density(targets, visits[0])
    return tuple(
        _choi_visit(lesions, targets, visit, baseline_size, baseline_density)
        for visit in visits[1:]
    )


def _choi_visit(
    lesions: Sequence[TrackedLesion],
    targets: Sequence[TrackedLesion],
    visit: Visit,
    baseline_size: float | None,
    baseline_density: float | None,
) -> Assessment:
    size, missing = _sum(targets, visit, nodes_by_short_axis=False)
    size_change = (
        None if size is None or not baseline_size else (size - baseline_size) / baseline_size
    )
    density = _density(targets, visit)
    density_change = None
    if density is not None and baseline_density is not None and baseline_density > 0:
        density_change = (density - baseline_density) / baseline_density

    def result(category: ResponseCategory, reason: str) -> Assessment:
        return Assessment(
            visit.number,
            ResponseCriteria.CHOI,
            category,
            reason,
            size,
            size_change,
            density,
            density_change,
        )

    if (new := _new_lesion_reason(visit)) is not None:
        return result(ResponseCategory.PROGRESSION, new)
    if visit.new_intratumoral_nodules:
        return result(ResponseCategory.PROGRESSION, "new or growing intratumoral nodules")
    if not targets:
        return result(ResponseCategory.NOT_EVALUABLE, "no measurable target lesion at baseline")
    if size_change is None:
        return result(ResponseCategory.NOT_EVALUABLE, _not_measured(missing))
    if all(_gone_entirely(visit.sizes.get(lesion.number)) for lesion in lesions):
        return result(ResponseCategory.COMPLETE, "all lesions disappeared")
    by_size = size_change <= -CHOI_SIZE + TOLERANCE
    by_density = density_change is not None and density_change <= CHOI_DENSITY + TOLERANCE
    words = [f"size {percent(size_change)}"]
    words.append(
        "density not measured" if density_change is None else f"density {percent(density_change)}"
    )
    reason = ", ".join(words)
    if (by_size or by_density) and not visit.non_target_progression:
        return result(ResponseCategory.PARTIAL, reason)
    if size_change >= CHOI_SIZE - TOLERANCE and not by_density:
        return result(ResponseCategory.PROGRESSION, reason)
    if visit.non_target_progression:
        reason += "; progression of non-measurable disease rules out a partial response"
    return result(ResponseCategory.STABLE, reason)


def _gone_entirely(size: LesionSize | None) -> bool:
    return (
        size is not None and size.longest_diameter_mm is not None and size.longest_diameter_mm <= 0
    )


def best_response(categories: Iterable[ResponseCategory]) -> ResponseCategory | None:
    """The best overall response of ``categories``, given in visit order; ``None`` if empty.

    RECIST 1.1 (section 4.4) records it from the start of treatment until progression: the
    categories after the first PD are left out (the PD itself counts). The best is the first
    of :data:`BEST_FIRST` found (CR > PR > SD > non-CR/non-PD > PD > NE), without the
    confirmation of a CR or PR by a later visit (which a trial protocol may require).
    """
    found = set()
    for category in categories:
        found.add(ResponseCategory(category))
        if category == ResponseCategory.PROGRESSION:
            break
    return next((c for c in BEST_FIRST if c in found), None)
