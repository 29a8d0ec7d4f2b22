"""One patient's clinical assessment for the tumour board: risk by every scheme, therapy note.

Nothing is guessed: a tumour that cannot be classified (missing size or mitoses, a size that
looks like millimetres) says why in its place instead of a class.
"""

from __future__ import annotations

from dataclasses import dataclass

from gistcad.analysis.recurrence import RecurrenceEstimate, recurrence_estimate
from gistcad.analysis.risk import RiskAssessment, RiskOptions, classify_all
from gistcad.analysis.therapy import TherapyImplication, risk_phrase, therapy_implication
from gistcad.domain import GenotypeDetail, MitosisUnit, RiskClass, RiskScheme, Site
from gistcad.errors import ValidationError


@dataclass(frozen=True)
class CaseAssessment:
    """Risk under every scheme, the AFIP-fitted RFS and the genotype's therapy implication.

    Attributes
    ----------
    risks
        Per scheme, the assessment; empty when the tumour cannot be classified.
    unclassified_reason
        Why ``risks`` is empty, in words; ``None`` when classified.
    recurrence
        AFIP-fitted long-term progression and 2-, 5- and 10-year RFS after surgery alone,
        when the tumour could be classified.
    therapy
        Therapy implication of the genotype, the adjuvant call made at the modified NIH 2008
        risk (the note names the scheme).
    other_schemes
        One sentence per other scheme whose class would lead to a different adjuvant call,
        e.g. ``"AFIP 2006 risk: moderate → adjuvant imatinib: consider."``; empty when the
        schemes agree.
    """

    risks: dict[RiskScheme, RiskAssessment]
    unclassified_reason: str | None
    recurrence: RecurrenceEstimate | None
    therapy: TherapyImplication
    other_schemes: tuple[str, ...] = ()


def assess_case(
    *,
    site: Site | str | None,
    size_cm: float | None,
    mitotic_count: float | None,
    mitotic_unit: MitosisUnit | str | None,
    rupture: bool | None,
    genotype: GenotypeDetail | str,
    options: RiskOptions | None = None,
) -> CaseAssessment:
    """Assess one tumour; see :class:`CaseAssessment`."""
    opts = options or RiskOptions()
    missing = [
        name
        for name, value in (("site", site), ("size", size_cm), ("mitotic count", mitotic_count))
        if value is None
    ]
    risks: dict[RiskScheme, RiskAssessment] = {}
    reason: str | None = None
    recurrence = None
    if missing:
        reason = f"not classifiable: {', '.join(missing)} unknown"
    else:
        assert site is not None and size_cm is not None and mitotic_count is not None
        unit = MitosisUnit(mitotic_unit or MitosisUnit.PER_50_HPF)
        try:
            recurrence = recurrence_estimate(  # refuses a size that looks like millimetres
                site=Site(site),
                size_cm=float(size_cm),
                mitoses=float(mitotic_count),
                unit=unit,
                rupture=bool(rupture),
            )
            risks = classify_all(
                site=Site(site),
                size_cm=float(size_cm),
                mitoses=float(mitotic_count),
                unit=unit,
                rupture=bool(rupture),
                options=opts,
            )
        except ValidationError as exc:
            reason, recurrence = f"not classifiable: {exc}", None
    modified = risks.get(RiskScheme.MODIFIED_NIH_2008)
    risk_class: RiskClass | None = None if modified is None else modified.risk_class
    therapy = therapy_implication(
        GenotypeDetail(genotype), risk_class, RiskScheme.MODIFIED_NIH_2008
    )
    return CaseAssessment(
        risks=risks,
        unclassified_reason=reason,
        recurrence=recurrence,
        therapy=therapy,
        other_schemes=_other_schemes(risks, therapy),
    )


def _other_schemes(
    risks: dict[RiskScheme, RiskAssessment], therapy: TherapyImplication
) -> tuple[str, ...]:
    """Schemes whose class would change the adjuvant call, each in one sentence."""
    sentences = []
    for scheme, assessment in risks.items():
        if scheme is therapy.scheme:
            continue
        other = therapy_implication(therapy.detail, assessment.risk_class, scheme)
        if other.adjuvant is not therapy.adjuvant:
            sentences.append(
                f"{risk_phrase(scheme, assessment.risk_class)[:-1]} → adjuvant imatinib: "
                f"{other.adjuvant.value}."
            )
    return tuple(sentences)
