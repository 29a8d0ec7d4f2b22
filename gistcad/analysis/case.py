"""One patient for the tumour board: risk by every scheme, therapy note, and the case card.

Nothing is guessed: a tumour that cannot be classified (missing size or mitoses, a size that
looks like millimetres) says why in its place instead of a class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gistcad.analysis.imaging_risk import ImagingRiskScore, imaging_risk_score
from gistcad.analysis.recurrence import RecurrenceEstimate, recurrence_estimate
from gistcad.analysis.risk import RiskAssessment, RiskOptions, classify_all
from gistcad.analysis.therapy import TherapyImplication, risk_phrase, therapy_implication
from gistcad.domain import GenotypeDetail, MitosisUnit, RiskClass, RiskScheme, Sex, Site
from gistcad.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from gistcad.analysis.prediction_source import PredictionText


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


# --- the case card: what the case page and the printed report both show ------------------


class CaseRows(Protocol):
    """The stored rows of one case the card is made from (see
    :func:`gistcad.store.queries.case_rows`)."""

    @property
    def pseudonym(self) -> str: ...
    @property
    def center(self) -> str: ...
    @property
    def sex(self) -> str | None: ...
    @property
    def age_at_diagnosis(self) -> float | None: ...
    @property
    def primary_tumour(self) -> Mapping[str, Any]: ...
    @property
    def outcome(self) -> Mapping[str, Any] | None: ...
    @property
    def predictions(self) -> pd.DataFrame: ...


def display_value(value: object, unit: str = "") -> str:
    """A stored value as the card prints it: "unknown" for missing, ``g`` format for numbers.

    >>> display_value(4.50, " cm"), display_value(None)
    ('4.5 cm', 'unknown')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"{value:g}{unit}" if isinstance(value, int | float) else f"{value}{unit}"


def _rounded(value: object, digits: int = 1) -> object:
    """A measured number to ``digits`` decimals as the card prints it (a size of 4.98032 cm
    reads 5 cm); anything else unchanged.

    >>> _rounded(4.98032), _rounded(42.7435), _rounded(None)
    (5.0, 42.7, None)
    """
    if isinstance(value, float) and not math.isnan(value):
        return round(value, digits)
    return value


def _flag(value: object, yes: str, no: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return yes if bool(value) else no


@dataclass(frozen=True)
class RiskRow:
    """One scheme's line of the card: scheme, class (with AFIP's %), notes."""

    scheme: str
    risk: str
    notes: str


@dataclass(frozen=True)
class FollowUp:
    """One follow-up figure: the time (or date) and what happened ("recurred", "alive")."""

    label: str
    value: str
    state: str | None = None


#: targets whose models predict the genotype, and the task all of them are judged on
GENOTYPE_TARGETS = ("genotype", "kit11")
RECOMMENDATION_TASK = "kit11_vs_rest"
RECOMMENDATION_TASK_LABEL = "KIT exon 11 vs rest"
#: validations whose out-of-fold predictions cover the whole cohort
COHORT_VALIDATIONS = ("kfold", "loco")


@dataclass(frozen=True)
class PanelModel:
    """One model in the genotype panel: its prediction in words and how it was validated.

    ``validation``: e.g. "out-of-fold AUC 0.81 (95 % CI 0.74–0.87), 200 patients, k-fold
    cross-validation"; ``this_patient``: "out-of-fold (fitted without this patient)",
    "trained on this patient (in-sample)" or "not trained on this patient".
    """

    model_version_id: int
    model: str
    text: PredictionText
    validation: str
    this_patient: str
    auc: float | None

    @property
    def shown(self) -> tuple[str, str] | None:
        """The class and probabilities to show: out-of-fold when the patient has them (the
        honest ones for a training patient), else the final model's unless they are
        in-sample (None: the model trained on the patient and has no out-of-fold prediction of
        them; ``text.withheld`` says so)."""
        shown = self.text.shown
        return None if shown is None else (shown[1], shown[2])

    @property
    def plain(self) -> str:
        """The model on one line: name, prediction (or why none is shown), this patient,
        validation."""
        shown = self.shown
        said = (
            "no prediction shown (in-sample only)" if shown is None else f"{shown[0]} ({shown[1]})"
        )
        return f"{self.model}: {said}; this patient: {self.this_patient}; {self.validation}"


@dataclass(frozen=True)
class GenotypePanel:
    """The genotype models of one case: the recommended one, and the others (folded).

    The recommended model is the best validated one: of the models that predicted this
    patient's genotype (targets :data:`GENOTYPE_TARGETS`), the one with the highest pooled
    out-of-fold AUC for KIT exon 11 vs rest among those evaluated out of fold on the whole
    cohort (k-fold or leave-one-center-out; a hold-out evaluation covers only its hold-out
    patients, so it is not compared). ``reason`` says why none is recommended.
    """

    recommended: PanelModel | None
    others: tuple[PanelModel, ...]
    reason: str | None = None

    @property
    def recommendation(self) -> str:
        """The recommendation in one sentence ("" without one)."""
        if self.recommended is None:
            return ""
        r = self.recommended
        return (
            f"Recommended model: {r.model}, the best validated for {RECOMMENDATION_TASK_LABEL}: "
            f"{r.validation}."
        )


def _auc_words(pooled: Mapping[str, Any] | None) -> str:
    if not pooled or pooled.get("auc") is None:
        return "no out-of-fold AUC recorded"
    text = f"AUC {pooled['auc']:.2f}"
    if pooled.get("ci_lower") is not None and pooled.get("ci_upper") is not None:
        text += f" (95 % CI {pooled['ci_lower']:.2f}–{pooled['ci_upper']:.2f})"
    else:
        text += " (CI not estimable)"
    return text + f", {pooled.get('n')} patients"


def _panel_model(row: Mapping[str, Any], text: PredictionText) -> PanelModel:
    from gistcad.analysis.prediction_source import VALIDATION_LABELS, PredictionSource

    validation = str(row.get("validation") or "")
    pooled = (row.get("pooled") or {}).get(RECOMMENDATION_TASK)
    how = VALIDATION_LABELS.get(validation, "no out-of-fold validation")
    if validation in COHORT_VALIDATIONS and (not pooled or pooled.get("auc") is None):
        words = f"{how}, no out-of-fold AUC recorded"
    elif validation in COHORT_VALIDATIONS:
        words = f"out-of-fold {_auc_words(pooled)}, {how}"
    elif validation:
        words = f"{_auc_words(pooled)} on a {how} only, not comparable with out-of-fold AUCs"
    else:
        words = "not validated out of fold"
    # ``text`` was made by prediction_text from this row, by the standing-prediction rule
    if text.out_of_fold_class is not None:
        this_patient = "out-of-fold (fitted without this patient)"
    elif text.source is PredictionSource.IN_SAMPLE:
        this_patient = "trained on this patient (in-sample)"
    elif text.source is PredictionSource.FINAL_UNSEEN:
        this_patient = "not trained on this patient"
    else:
        this_patient = "unknown whether trained on this patient"
    auc = None if pooled is None or validation not in COHORT_VALIDATIONS else pooled.get("auc")
    return PanelModel(
        int(row["model_version_id"]), str(row["model"]), text, words, this_patient, auc
    )


def genotype_panel(
    rows: list[Mapping[str, Any]], texts: tuple[PredictionText, ...]
) -> GenotypePanel:
    """The genotype panel of one case (see :class:`GenotypePanel`) from its prediction rows
    (:func:`gistcad.store.model_queries.patient_predictions`, newest first) and their words.

    A model that predicted the patient more than once counts once, by its newest prediction.
    """
    models: dict[int, PanelModel] = {}
    for row, text in zip(rows, texts, strict=True):
        if row.get("target") in GENOTYPE_TARGETS and int(row["model_version_id"]) not in models:
            models[int(row["model_version_id"])] = _panel_model(row, text)
    if not models:
        return GenotypePanel(None, (), "No genotype model has predicted this patient yet.")
    validated = [m for m in models.values() if m.auc is not None]
    if not validated:
        return GenotypePanel(
            None,
            tuple(models.values()),
            "No model here was evaluated out of fold on the whole cohort, so none is recommended.",
        )
    best = max(validated, key=lambda m: m.auc or 0.0)  # the first of equals: the newest
    others = tuple(m for m in models.values() if m is not best)
    return GenotypePanel(best, others)


@dataclass(frozen=True)
class CaseCard:
    """One patient for the tumour board, in the words the case page and the report print.

    Made by :func:`case_card` from the stored rows; every coded value is printed with its
    label from :mod:`gistcad.domain` (e.g. "Modified NIH 2008", "Jejunum/ileum").

    Attributes
    ----------
    pseudonym, center
    facts
        Tumour and patient, label to value: Site, Sub-site, Size, Mitoses, Rupture,
        Histology, Sex, Age at diagnosis.
    assessment
        Risk under every scheme, the recurrence estimate and the therapy implication.
    risk_rows
        One :class:`RiskRow` per scheme; empty when the tumour cannot be classified (then
        ``assessment.unclassified_reason`` says why).
    genotype
        The true genotype (``unknown`` when not tested) and ``genotype_text``, the
        pathology report's wording.
    predictions
        Each model's prediction, newest first: model version, final model or out-of-fold.
    genotype_models
        The genotype models' predictions: the recommended one and the others
        (:class:`GenotypePanel`).
    other_predictions
        The predictions of models of other targets (risk, response), newest first.
    imaging_risk
        The imaging risk score for recurrence-free survival with its tertile in the training
        cohort (:func:`~gistcad.analysis.imaging_risk.imaging_risk_score`), or None.
    follow_up
        Recurrence-free, overall, last follow-up.
    """

    pseudonym: str
    center: str
    facts: Mapping[str, str]
    assessment: CaseAssessment
    risk_rows: tuple[RiskRow, ...]
    genotype: GenotypeDetail
    genotype_text: str
    predictions: tuple[PredictionText, ...]
    follow_up: tuple[FollowUp, ...]
    genotype_models: GenotypePanel = GenotypePanel(None, ())
    other_predictions: tuple[PredictionText, ...] = ()
    imaging_risk: ImagingRiskScore | None = None

    @property
    def genotype_line(self) -> str:
        """E.g. ``"PDGFRA D842V (p.D842V)"``: the label, and the mutation as the pathology
        report gave it when it says more than the code."""
        reported = self.genotype_text.strip()
        if reported in ("", "unknown", self.genotype.value, self.genotype.label):
            return self.genotype.label
        return f"{self.genotype.label} ({reported})"

    @property
    def follow_up_line(self) -> str:
        """The follow-up on one line, e.g. ``"Recurrence-free: 40 mo (no recurrence); ..."``."""
        return "; ".join(
            f"{f.label}: {f.value}" + (f" ({f.state})" if f.state else "") for f in self.follow_up
        )


def case_card(rows: CaseRows, options: RiskOptions | None = None) -> CaseCard:
    """The card of one case from its stored rows (see :class:`CaseCard`)."""
    from gistcad.analysis.prediction_source import prediction_text  # pandas: not for `risk`

    v = display_value
    tumour = rows.primary_tumour
    site = None if tumour.get("site") is None else Site(tumour["site"])
    unit = None if tumour.get("mitotic_unit") is None else MitosisUnit(tumour["mitotic_unit"])
    sex = None if rows.sex is None else Sex(rows.sex)
    genotype = GenotypeDetail(tumour.get("genotype_detail") or GenotypeDetail.UNKNOWN)
    rupture = None if tumour.get("rupture") is None else bool(tumour["rupture"])
    unit_text = "" if unit is None else unit.label
    assessment = assess_case(
        site=site,
        size_cm=tumour.get("size_cm"),
        mitotic_count=tumour.get("mitotic_count"),
        mitotic_unit=unit,
        rupture=rupture,
        genotype=genotype,
        options=options,
    )
    outcome = rows.outcome or {}
    prediction_rows = rows.predictions.to_dict(orient="records")
    texts = tuple(prediction_text(r) for r in prediction_rows)
    return CaseCard(
        pseudonym=rows.pseudonym,
        center=rows.center,
        facts={
            "Site": "unknown" if site is None else site.label,
            "Sub-site": v(tumour.get("sub_site")),
            "Size": v(_rounded(tumour.get("size_cm")), " cm"),
            "Mitoses": f"{v(tumour.get('mitotic_count'))} {unit_text}".strip(),
            "Rupture": {True: "yes", False: "no", None: "unknown"}[rupture],
            "Histology": v(tumour.get("histology")),
            "Sex": "unknown" if sex is None else sex.label,
            "Age at diagnosis": v(_rounded(rows.age_at_diagnosis), " y"),
        },
        assessment=assessment,
        risk_rows=tuple(
            RiskRow(scheme.label, a.label, "; ".join(a.notes))
            for scheme, a in assessment.risks.items()
        ),
        genotype=genotype,
        genotype_text=v(tumour.get("genotype_text")),
        predictions=texts,
        genotype_models=genotype_panel(prediction_rows, texts),
        imaging_risk=imaging_risk_score(prediction_rows),
        other_predictions=tuple(
            t
            for r, t in zip(prediction_rows, texts, strict=True)
            if r.get("target") not in GENOTYPE_TARGETS
        ),
        follow_up=(
            FollowUp(
                "Recurrence-free",
                v(outcome.get("rfs_months"), " mo"),
                _flag(outcome.get("rfs_event"), "recurred", "no recurrence"),
            ),
            FollowUp(
                "Overall",
                v(outcome.get("os_months"), " mo"),
                _flag(outcome.get("os_event"), "died", "alive"),
            ),
            FollowUp("Last follow-up", v(outcome.get("last_follow_up"))),
        ),
    )
