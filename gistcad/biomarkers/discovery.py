"""Discover imaging biomarkers of survival: the one call of ``gistcad biomarkers discover``
and of the Biomarkers page.

:func:`discover_biomarkers` reads the patients in scope that have a baseline CT and a tumour
mask (:func:`~gistcad.store.model_queries.modelling_table`), their survival and clinical
factors, computes the candidate features (the IBSI radiomics features of the whole tumour and
of its solid part, :mod:`gistcad.modelling.radiomics_model`, cached and run on the cluster),
and hands them to :func:`~gistcad.analysis.biomarker_discovery.discover`. With
``deep_model``, the risk score of that deep model version joins them as ``deep_risk_score``
(:func:`~gistcad.store.model_queries.deep_risk_scores`): the out-of-fold score of each patient
the version was trained on, the final model's score of the others, never an in-sample one;
patients without such a score are left out (``notes`` counts them). The candidates are image
features only: the outcome columns never enter them (checked).

The ``risk`` adjustment is the ingredients of the modified NIH 2008 scheme as covariates, not
its class: log size (cm), log(1 + mitotic count), a non-gastric site and rupture. Continuous
ingredients carry all the scheme's information without classes that have no event in a
center or a bootstrap resample. ``afip`` adds the log cumulative hazard of the tumour's AFIP
2006 cell (:func:`afip_log_cumulative_hazard`): the hazard rises with size and mitoses in
steps, by site, not log-linearly, and a feature that is a non-linear function of size (volume,
surface, major axis) would otherwise pick up what the linear terms miss and be discovered
without carrying anything beyond the clinical factors. ``genotype`` adds indicators of KIT
exon 9, PDGFRA and wild-type/other against KIT exon 11. Patients missing an adjustment factor
are left out (``notes`` counts them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.biomarker_discovery import (
    WINSORISE,
    Discovery,
    DiscoverySettings,
    FloatArray,
    Harmoniser,
    ObjectArray,
    check_no_outcome,
    discover,
)
from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.analysis.cox_screen import TERTILE_ORDER, tertiles
from gistcad.analysis.risk import classify_many
from gistcad.cluster import cluster_executor, map_cases
from gistcad.domain import (
    Endpoint,
    GenotypeClass,
    GenotypeDetail,
    RiskScheme,
    Site,
    genotype_class,
)
from gistcad.errors import ValidationError
from gistcad.modelling.harmonisation import ComBat
from gistcad.modelling.radiomics_model import (
    CaseImages,
    FeatureTask,
    RadiomicsSettings,
    cache_path,
    described_rows,
)
from gistcad.progress import Progress
from gistcad.store.model_queries import deep_risk_scores, modelling_table
from gistcad.store.queries import cohort_table
from gistcad.store.scope import AccessScope

logger = logging.getLogger(__name__)

#: the radiomics settings of the candidates: IBSI features, whole tumour and solid part
CANDIDATE_SETTINGS = RadiomicsSettings(solid_part=True)
#: fewest patients (with features, survival and the adjustment) discovery runs on
MIN_PATIENTS = 20
#: fewest events discovery runs on
MIN_EVENTS = 10
#: the name of the deep model's risk score among the candidates
DEEP_RISK_SCORE = "deep_risk_score"
#: events per model parameter below which the estimates are noted as unstable (Peduzzi P et
#: al., J Clin Epidemiol 1995;48:1503)
EVENTS_PER_PARAMETER = 10


class Adjustment(StrEnum):
    """Clinical factors every feature's Cox model is adjusted for."""

    RISK = "risk"  # log size, log(1 + mitoses), non-gastric site, rupture
    AFIP = "afip"  # log cumulative hazard of the AFIP 2006 cell (site × size × mitoses)
    GENOTYPE = "genotype"  # KIT exon 9, PDGFRA, wild-type/other vs KIT exon 11


class Harmonisation(StrEnum):
    """How features are made comparable across centers before the screen."""

    NONE = "none"
    COMBAT = "combat"  # ComBat per center, log size protected, fitted without the outcome


@dataclass(frozen=True)
class DiscoveryRequest:
    """What to discover: endpoint, adjustment, harmonisation, FDR, bootstrap, seed, and the
    deep model version (id or name) whose risk score joins the candidates (None: radiomics only).

    Discovery and confirmation are always split by leave-one-center-out (see
    :func:`~gistcad.analysis.biomarker_discovery.discover`).
    """

    endpoint: Endpoint = Endpoint.RFS
    adjust: tuple[Adjustment, ...] = (Adjustment.RISK, Adjustment.AFIP, Adjustment.GENOTYPE)
    harmonise: Harmonisation = Harmonisation.NONE
    fdr: float = 0.1
    bootstrap: int = 200
    seed: int = 0
    deep_model: str | None = None
    #: share of each tail clipped before the screen (:attr:`DiscoverySettings.winsorise`)
    winsorise: float = WINSORISE

    def __post_init__(self) -> None:
        if self.deep_model is not None:
            if not isinstance(self.deep_model, str | int) or isinstance(self.deep_model, bool):
                raise ValidationError(
                    f"the deep model is named by a model version's id or name, not "
                    f"{self.deep_model!r}"
                )
            object.__setattr__(self, "deep_model", str(self.deep_model).strip() or None)
        object.__setattr__(self, "endpoint", Endpoint(self.endpoint))
        object.__setattr__(self, "harmonise", Harmonisation(self.harmonise))
        object.__setattr__(self, "adjust", tuple(dict.fromkeys(Adjustment(a) for a in self.adjust)))
        self.settings()  # refuse a bad FDR or bootstrap count here

    def settings(self) -> DiscoverySettings:
        """The statistics' settings."""
        return DiscoverySettings(
            fdr=self.fdr, bootstrap=self.bootstrap, seed=self.seed, winsorise=self.winsorise
        )

    def to_parameters(self) -> dict[str, Any]:
        """The request as a job's JSON parameters (:meth:`from_parameters` reads them back)."""
        return {
            "endpoint": self.endpoint.value,
            "adjust": [a.value for a in self.adjust],
            "harmonise": self.harmonise.value,
            "fdr": self.fdr,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "deep_model": self.deep_model,
            "winsorise": self.winsorise,
        }

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> DiscoveryRequest:
        """The request of a discovery job's parameters; a clear error for a bad one."""
        unknown = sorted(set(parameters) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValidationError(
                f"unknown discovery parameter(s) {unknown}; use "
                f"{', '.join(cls.__dataclass_fields__)}"
            )
        try:
            return cls(
                endpoint=Endpoint(parameters.get("endpoint", Endpoint.RFS)),
                adjust=tuple(Adjustment(a) for a in parameters.get("adjust", ())),
                harmonise=Harmonisation(parameters.get("harmonise", Harmonisation.NONE)),
                fdr=float(parameters.get("fdr", 0.1)),
                bootstrap=int(parameters.get("bootstrap", 200)),
                seed=int(parameters.get("seed", 0)),
                deep_model=parameters.get("deep_model"),
                winsorise=float(parameters.get("winsorise", WINSORISE)),
            )
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"bad discovery parameters {dict(parameters)}: {exc}") from None

    @classmethod
    def parse_adjust(cls, text: str) -> tuple[Adjustment, ...]:
        """``"risk,genotype"`` → the adjustments; ``""`` or ``"none"`` → none."""
        names = [t.strip() for t in text.split(",") if t.strip() and t.strip() != "none"]
        try:
            return tuple(Adjustment(n) for n in names)
        except ValueError:
            raise ValidationError(
                f"unknown adjustment in {text!r}; choose from "
                f"{', '.join(a.value for a in Adjustment)} (comma-separated) or none"
            ) from None


@dataclass(frozen=True, eq=False)
class BiomarkerDiscovery:
    """The result of :func:`discover_biomarkers`.

    Attributes
    ----------
    request : DiscoveryRequest
    discovery : Discovery
        The statistics (tables per feature, per center, per held-out center).
    patients : pandas.DataFrame
        The patients analysed: ``pseudonym``, ``center``, ``months``, ``event``; with a deep
        model, also ``deep_risk_score`` (as read, before scaling) and ``deep_risk_source``
        (a :class:`~gistcad.domain.RiskScoreSource` value).
    covariates : tuple of str
        The adjustment's columns.
    candidates : int
        Candidate features before cleaning.
    notes : tuple of str
        Who was left out and why, and the statistics' notes.
    """

    request: DiscoveryRequest
    discovery: Discovery
    patients: pd.DataFrame
    covariates: tuple[str, ...]
    candidates: int
    notes: tuple[str, ...] = field(default=())


_OTHER_GENOTYPES = (GenotypeClass.KIT9, GenotypeClass.PDGFRA, GenotypeClass.WT_OTHER)
#: the smallest probability of progression an AFIP cell is given: the table's "0 %" cells
#: come from few patients, and the log cumulative hazard of 0 is −∞
AFIP_FLOOR = 0.01


def afip_log_cumulative_hazard(
    sites: np.ndarray, size_cm: np.ndarray, mitoses: np.ndarray
) -> FloatArray:
    """log(−log(1 − p)) of each tumour's AFIP 2006 cell, p its risk of progressive disease.

    Parameters
    ----------
    sites : ndarray of str, shape (n,)
        :class:`~gistcad.domain.Site` values.
    size_cm, mitoses : ndarray of float, shape (n,)
        Largest dimension (cm) and mitotic count per 50 HPF.

    Returns
    -------
    ndarray, shape (n,)
        NaN where a value is missing or invalid. p is the AFIP percentage (Miettinen M,
        Lasota J. Semin Diagn Pathol 2006;23:70–83; :func:`~gistcad.analysis.risk
        .classify_many`) at least :data:`AFIP_FLOOR`; cells with insufficient data
        (duodenum, rectum > 5 cm) take the jejunum/ileum value. Under a proportional-hazards
        cure model, P(ever progress) = 1 − exp(−H), so log H = log(−log(1 − p)) is the
        cell's log cumulative hazard, the scale on which Cox covariates add.
    """
    sites = np.asarray(sites, dtype=object)
    size = np.asarray(size_cm, dtype=float)
    count = np.asarray(mitoses, dtype=float)
    known = {s.value for s in Site}
    valid = (
        np.array([str(s) in known for s in sites], dtype=bool)
        & np.isfinite(size)
        & (size > 0)
        & np.isfinite(count)
        & (count >= 0)
    )
    out = np.full(size.shape, np.nan)
    if not valid.any():
        return out
    _, percent = classify_many(RiskScheme.AFIP_2006, sites[valid], size[valid], count[valid])
    missing = np.isnan(percent)
    if missing.any():
        fallback = np.full(int(missing.sum()), Site.JEJUNUM_ILEUM.value, dtype=object)
        _, percent[missing] = classify_many(
            RiskScheme.AFIP_2006, fallback, size[valid][missing], count[valid][missing]
        )
    p = np.clip(percent / 100.0, AFIP_FLOOR, 1.0 - AFIP_FLOOR)
    out[valid] = np.log(-np.log1p(-p))
    return out


def adjustment_covariates(
    table: pd.DataFrame, adjust: tuple[Adjustment, ...]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The numeric adjustment per row of ``table`` and which rows have it complete.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``size_cm``, ``mitotic_count``, ``site``, ``rupture``, ``genotype_detail``.
    """
    out = pd.DataFrame(index=range(len(table)))
    if Adjustment.RISK in adjust:
        size = pd.to_numeric(table["size_cm"], errors="coerce").to_numpy(dtype=float)
        mitoses = pd.to_numeric(table["mitotic_count"], errors="coerce").to_numpy(dtype=float)
        site = table["site"].astype(object).to_numpy()
        rupture = pd.to_numeric(table["rupture"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["log_size"] = np.where(size > 0, np.log(size), np.nan)
            out["log_mitoses"] = np.where(mitoses >= 0, np.log1p(mitoses), np.nan)
        out["non_gastric"] = np.where(
            pd.isna(site), np.nan, (site != Site.STOMACH.value).astype(float)
        )
        out["rupture"] = np.nan_to_num(rupture, nan=0.0)  # a missing flag counts as none
    if Adjustment.AFIP in adjust:
        out["afip_log_hazard"] = afip_log_cumulative_hazard(
            table["site"].astype(object).to_numpy(),
            pd.to_numeric(table["size_cm"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(table["mitotic_count"], errors="coerce").to_numpy(dtype=float),
        )
    if Adjustment.GENOTYPE in adjust:
        classes = [_genotype(v) for v in table["genotype_detail"]]
        for level in _OTHER_GENOTYPES:
            out[f"genotype_{level.value}"] = [
                np.nan if c is None else float(c is level) for c in classes
            ]
    complete = out.notna().all(axis=1).to_numpy()
    return out, complete


def _genotype(detail: object) -> GenotypeClass | None:
    if not isinstance(detail, str):
        return None
    return genotype_class(GenotypeDetail(detail))


def _combat(log_size: FloatArray) -> Harmoniser:
    """ComBat per center with log size protected, fitted on the rows it is given."""

    def harmonise(x: FloatArray, centers: ObjectArray, rows: np.ndarray) -> FloatArray:
        protected = log_size[:, None]
        model = ComBat().fit(x[rows], centers[rows], protected[rows])
        return model.transform(x, centers, protected)

    return harmonise


def candidate_features(
    table: pd.DataFrame, data_dir: Path, progress: Progress | None = None
) -> pd.DataFrame:
    """The candidate features of each row of ``table`` (image and mask columns), one task per
    patient on the cluster when many are not cached (``progress``: "candidate features
    done/total")."""
    cases = [
        CaseImages(str(r.volume_path), str(r.mask_path), str(r.volume_sha256), str(r.mask_sha256))
        for r in table.itertuples(index=False)
    ]
    missing = sum(not cache_path(data_dir, c, CANDIDATE_SETTINGS).is_file() for c in cases)
    with cluster_executor(missing) as executor:
        rows = map_cases(
            FeatureTask(data_dir, CANDIDATE_SETTINGS),
            cases,
            executor,
            progress=progress,
            what="candidate features",
        )
    features = pd.DataFrame(rows).astype(float)
    check_no_outcome(features)
    return features


def _patients(session: Session, scope: AccessScope, endpoint: Endpoint) -> pd.DataFrame:
    table = modelling_table(session, scope).drop(columns=["rfs_months", "rfs_event"])
    outcomes = cohort_table(
        session, scope, columns=[f"{endpoint.value}_months", f"{endpoint.value}_event"]
    ).set_index("patient_id")
    table["months"] = table["patient_id"].map(outcomes[f"{endpoint.value}_months"])
    table["event"] = table["patient_id"].map(outcomes[f"{endpoint.value}_event"])
    return table


def discover_biomarkers(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    request: DiscoveryRequest,
    progress: Progress | None = None,
) -> BiomarkerDiscovery:
    """Which imaging features predict ``request.endpoint`` beyond the clinical factors.

    Parameters
    ----------
    session, scope
        The store, and whose patients may be read.
    data_dir
        The data folder (images, masks, the feature cache).
    request : DiscoveryRequest
    progress
        Told "candidate features done/total" while the features are computed.

    Returns
    -------
    BiomarkerDiscovery

    Raises
    ------
    ValidationError
        Fewer than :data:`MIN_PATIENTS` patients with a mask, survival and the adjustment,
        or fewer than :data:`MIN_EVENTS` events among them.
    """
    table = _patients(session, scope, request.endpoint)
    notes = []
    usable = table["mask_path"].notna() & table["months"].notna() & table["event"].notna()
    if (~usable).any():
        notes.append(f"{int((~usable).sum())} patient(s) without a tumour mask or follow-up")
    table = table[usable].reset_index(drop=True)
    covariates, complete = adjustment_covariates(table, request.adjust)
    if (~complete).any():
        notes.append(f"{int((~complete).sum())} patient(s) missing an adjustment factor")
    table = table[complete].reset_index(drop=True)
    covariates = covariates[complete].reset_index(drop=True)
    if request.deep_model is not None:
        table, scored = _with_deep_risk_score(session, scope, table, request.deep_model, notes)
        covariates = covariates[scored].reset_index(drop=True)
    _require_enough(table, request)  # before any feature is computed
    features = candidate_features(table, data_dir, progress)
    described = described_rows(features)
    if not described.all():
        low, high = CANDIDATE_SETTINGS.resegment_hu
        notes.append(
            f"{int((~described).sum())} patient(s) left out: no voxel of the tumour outline "
            f"lies between {low:g} and {high:g} HU, or the outline covers no voxel at all, so no "
            "feature describes it"
        )
        table = table[described].reset_index(drop=True)
        covariates = covariates[described].reset_index(drop=True)
        features = features[described].reset_index(drop=True)
        _require_enough(table, request)
    events, parameters = int(table["event"].sum()), covariates.shape[1] + 1
    if events < EVENTS_PER_PARAMETER * parameters:
        notes.append(
            f"{events} events for {parameters} parameters per model (fewer than "
            f"{EVENTS_PER_PARAMETER} per parameter): hazard ratios are unstable; adjust for "
            "fewer factors or add patients"
        )
    if request.deep_model is not None:
        features[DEEP_RISK_SCORE] = table[DEEP_RISK_SCORE].to_numpy(dtype=float)
        check_no_outcome(features)
    log_size = np.log(pd.to_numeric(table["size_cm"], errors="coerce").to_numpy(dtype=float))
    if not np.isfinite(log_size).all():
        log_size = np.nan_to_num(log_size, nan=float(np.nanmedian(log_size)))
    harmoniser = _combat(log_size) if request.harmonise is Harmonisation.COMBAT else None
    found = discover(
        features,
        table["months"].to_numpy(dtype=float),
        table["event"].to_numpy(dtype=float),
        covariates,
        table["center"].to_numpy(dtype=object),
        log_size,
        request.settings(),
        harmoniser=harmoniser,
    )
    logger.info("discovery: %d patients, %d features", found.n, found.analysed.shape[1])
    shown = ["pseudonym", "center", "months", "event"]
    if request.deep_model is not None:
        shown += [DEEP_RISK_SCORE, "deep_risk_source"]
    return BiomarkerDiscovery(
        request=request,
        discovery=found,
        patients=table[shown].copy(),
        covariates=tuple(str(c) for c in covariates.columns),
        candidates=int(features.shape[1]),
        notes=tuple(notes) + found.notes,
    )


def _require_enough(table: pd.DataFrame, request: DiscoveryRequest) -> None:
    """Refuse a discovery on fewer than :data:`MIN_PATIENTS` patients or :data:`MIN_EVENTS`
    events."""
    if len(table) < MIN_PATIENTS:
        raise ValidationError(
            f"only {len(table)} patient(s) have a tumour mask, {request.endpoint.label.lower()} "
            f"and the adjustment factors; discovery needs at least {MIN_PATIENTS}: import "
            "more patients or adjust for fewer factors"
        )
    events = int(table["event"].sum())
    if events < MIN_EVENTS:
        raise ValidationError(
            f"only {events} event(s) among {len(table)} patients "
            f"({request.endpoint.label.lower()}); discovery needs at least {MIN_EVENTS}: "
            "import more patients or choose the other endpoint"
        )


def _with_deep_risk_score(
    session: Session, scope: AccessScope, table: pd.DataFrame, key: str, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """``table`` limited to the patients with an honest risk score of deep model ``key``, with
    ``deep_risk_score`` and ``deep_risk_source`` added, and which rows were kept; ``notes``
    is told how many were left out."""
    deep = deep_risk_scores(session, scope, key)
    scores = deep.scores.set_index("patient_id")
    scored = table["patient_id"].isin(scores.index).to_numpy()
    if (~scored).any():
        notes.append(
            f"{int((~scored).sum())} patient(s) without a risk score of deep model {deep.name} "
            "(out-of-fold, or from a final model not trained on them)"
        )
    kept = table[scored].reset_index(drop=True)
    kept[DEEP_RISK_SCORE] = kept["patient_id"].map(scores["risk_score"]).astype(float)
    kept["deep_risk_source"] = kept["patient_id"].map(scores["source"])
    return kept, scored


def tertile_comparison(result: BiomarkerDiscovery, feature: str) -> SurvivalComparison:
    """Survival by tertiles of one analysed feature (KM, log-rank, HR vs the lowest tertile).

    Raises
    ------
    ValidationError
        For a feature that was not analysed.
    """
    analysed = result.discovery.analysed
    if feature not in analysed.columns:
        raise ValidationError(f"no analysed feature {feature!r}; choose one of the table's")
    return compare_groups(
        result.discovery.durations,
        result.discovery.events,
        tertiles(analysed[feature].to_numpy(dtype=float)),
        times=[0.0, 24.0, 60.0, 120.0],
        min_group_size=1,
        order=TERTILE_ORDER,
        ordered=True,
    )


def center_forest_table(result: BiomarkerDiscovery, feature: str) -> pd.DataFrame:
    """One feature's hazard ratio per SD in each center and in all, for a forest plot.

    Returns
    -------
    pandas.DataFrame
        ``term`` (center, n, events), ``hr``, ``ci_lower``, ``ci_upper``, ``p``; rows
        without a finite estimate left out.
    """
    per = result.discovery.per_center
    rows = per[per["feature"] == feature]
    overall = result.discovery.table[result.discovery.table["feature"] == feature]
    terms = [f"{r.center} (n={r.n}, {r.events} events)" for r in rows.itertuples()]
    table = pd.DataFrame(
        {
            "term": [*terms, f"All centers (n={result.discovery.n})"],
            "hr": [*rows["hr"], *overall["hr"]],
            "ci_lower": [*rows["ci_lower"], *overall["ci_lower"]],
            "ci_upper": [*rows["ci_upper"], *overall["ci_upper"]],
            "p": [*rows["p"], *overall["p"]],
        }
    )
    finite = np.isfinite(table[["hr", "ci_lower", "ci_upper"]].to_numpy(dtype=float)).all(axis=1)
    return table[finite].reset_index(drop=True)
