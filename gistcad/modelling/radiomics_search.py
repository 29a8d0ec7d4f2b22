"""The radiomics model search, as WORC does it: preprocessing fitted on training rows, several
classifiers × hyper-parameters judged by a repeated inner cross-validation on AUC, and an
ensemble of the best (by default of all of them).

Preprocessing (:class:`Preprocessing`, fitted on the rows it is given, never on the rows it
predicts): median imputation and removal of constant features; ComBat per center
(:mod:`.harmonisation`) of the image features with the tumour's size and site protected; the
clinical covariates (site one-hot, log size, age, sex: those of the clinical baseline, nothing
else) joined; the tube voltage (kVp) of each scan, when the image features carry it as a column
of :data:`KVP_COLUMNS` (:class:`~gistcad.modelling.radiomics_model.RadiomicsSettings`'
``kvp``), is removed by ComBat as a scanner effect (default) or protected, never a feature
itself, a missing kVp imputed by the median of its center's training rows (of all training rows
for a center without one), and left out when it does not vary within any center (then the
centers' batch terms already hold its effect); near-duplicate removal (of each pair of features
with |Spearman ρ| > :data:`DUPLICATE_RHO` on the training rows, the later one in a stable order
is dropped: clinical covariates first, then the solid part's features, then the rest in
extraction order; labels are not used, so the removal cannot select by chance); scaling.

Search (:func:`search`): every candidate of :class:`SearchSettings` (classifier ×
hyper-parameters, each with an optional univariate selection of k features) is scored by the
mean one-vs-rest macro AUC over the inner splits: leave one center out when the training rows
come from two centers or more and ``by_center``, else stratified k-fold repeated with other
seeds. The preprocessing is fitted inside each inner training split too. The best
``ensemble_size`` candidates are refitted on all the rows and their probabilities averaged
(when that is every candidate, as by default, the inner cross-validation is skipped). With
``score_class`` (a KIT exon 11 model fitted on the genotype classes) a candidate's score is
that class's one-vs-rest AUC, the task's own.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from gistcad.domain import Site
from gistcad.features.solid_part import PREFIX as SOLID_PREFIX
from gistcad.modelling.harmonisation import (
    ComBat,
    KvpUse,
    center_kvp_medians,
    impute_kvp,
    varies_within_a_center,
)

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: |Spearman ρ| above which two features count as near-duplicates
DUPLICATE_RHO = 0.95
#: the column of the image features that carries each scan's kVp, named by how ComBat uses it
KVP_COLUMNS = {KvpUse.ADJUST: "scan_kvp_adjusted", KvpUse.PROTECT: "scan_kvp_protected"}
#: the clinical covariates joined to the image features (the clinical baseline's inputs)
CLINICAL_COLUMNS = ("size_cm", "site", "age_at_diagnosis", "sex")
_SITES = [s.value for s in Site]


def clinical_covariates(table: pd.DataFrame) -> pd.DataFrame:
    """Log size, age, sex (1 male, 0 female, NaN unknown) and site one-hot, as numbers.

    Only the columns of :data:`CLINICAL_COLUMNS` are read.
    """
    index = range(len(table))
    out = pd.DataFrame(index=index)
    size = pd.to_numeric(table["size_cm"], errors="coerce").to_numpy(dtype=float)
    out["clin_log_size"] = np.log(np.clip(size, 0.1, None))
    out["clin_age"] = pd.to_numeric(table["age_at_diagnosis"], errors="coerce").to_numpy(float)
    sex = table["sex"].astype(object).to_numpy()
    out["clin_male"] = np.where(sex == "male", 1.0, np.where(sex == "female", 0.0, np.nan))
    site = table["site"].astype(object).to_numpy()
    for value in _SITES:
        out[f"clin_site_{value}"] = (site == value).astype(float)
    return out


def _spearman_duplicates(x: FloatArray, threshold: float) -> NDArray[np.bool_]:
    """Which columns to keep: each column correlated above ``threshold`` (|ρ|) with an earlier
    kept one is dropped."""
    ranks = np.apply_along_axis(rankdata, 0, x)
    ranks = ranks - ranks.mean(axis=0)
    norm = np.sqrt((ranks**2).sum(axis=0))
    norm[norm == 0] = 1.0
    rho = (ranks.T @ ranks) / np.outer(norm, norm)
    keep = np.ones(x.shape[1], dtype=bool)
    for j in range(x.shape[1]):
        if keep[j]:
            later = np.arange(j + 1, x.shape[1])
            keep[later[np.abs(rho[j, later]) > threshold]] = False
    return keep


@dataclass
class Preprocessing:
    """Imputation, ComBat, clinical covariates, near-duplicate removal and scaling, fitted on
    the training rows (see the module's docstring)."""

    harmonise: bool = True
    duplicate_rho: float = DUPLICATE_RHO
    #: how the kVp column of the image features (if any) entered ComBat; its training medians
    #: per center and pooled
    kvp_use_: KvpUse = KvpUse.IGNORE
    kvp_medians_: dict[str, float] = field(default_factory=dict)
    kvp_median_: float = float("nan")
    image_columns_: list[str] = field(default_factory=list)
    medians_: FloatArray = field(default_factory=lambda: np.zeros(0))
    clinical_medians_: FloatArray = field(default_factory=lambda: np.zeros(0))
    combat_: ComBat | None = None
    keep_: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    mean_: FloatArray = field(default_factory=lambda: np.zeros(0))
    scale_: FloatArray = field(default_factory=lambda: np.zeros(0))
    names_: list[str] = field(default_factory=list)

    @staticmethod
    def _protected(clinical: FloatArray) -> FloatArray:
        # log size and the site one-hot (the first site left out: batches carry the intercept)
        return np.hstack([clinical[:, :1], clinical[:, 4:]])

    def _fit_kvp(self, image: pd.DataFrame, centers: NDArray[np.object_]) -> pd.DataFrame:
        """Take the kVp column out of ``image``, keep its training medians and decide whether
        it is used (it must vary within a center); returns the image features alone."""
        found = [use for use, column in KVP_COLUMNS.items() if column in image]
        self.kvp_use_ = found[0] if found else KvpUse.IGNORE
        if not found:
            return image
        kvp = pd.to_numeric(image[KVP_COLUMNS[found[0]]], errors="coerce").to_numpy(float)
        self.kvp_medians_, self.kvp_median_ = center_kvp_medians(kvp, centers)
        filled = self._kvp(kvp, centers)
        if not np.isfinite(self.kvp_median_) or not varies_within_a_center(filled, centers):
            logger.info("kVp not used by ComBat: unknown, or constant within every center")
            self.kvp_use_ = KvpUse.IGNORE
        return image.drop(columns=list(KVP_COLUMNS.values()), errors="ignore")

    def _kvp(self, values: FloatArray, centers: NDArray[np.object_]) -> FloatArray:
        """kVp with a missing value imputed by its center's training median (else the pooled
        training median)."""
        return impute_kvp(values, centers, self.kvp_medians_, self.kvp_median_)

    def _combat_inputs(
        self, image: pd.DataFrame, clin: FloatArray, centers: NDArray[np.object_]
    ) -> tuple[FloatArray, FloatArray | None]:
        """The protected covariates and the adjusted ones (kVp, per :attr:`kvp_use_`)."""
        protected = self._protected(clin)
        use = getattr(self, "kvp_use_", KvpUse.IGNORE)  # older fitted models have none
        if use is KvpUse.IGNORE:
            return protected, None
        column = KVP_COLUMNS[use]
        raw = image[column] if column in image else pd.Series(np.nan, index=image.index)
        kvp = self._kvp(pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float), centers)
        if use is KvpUse.PROTECT:
            return np.hstack([protected, kvp[:, None]]), None
        return protected, kvp[:, None]

    def fit(
        self, image: pd.DataFrame, clinical: pd.DataFrame, centers: NDArray[np.object_]
    ) -> Preprocessing:
        """Fit on training rows: ``image`` features (with kVp as a column of
        :data:`KVP_COLUMNS`, or without), ``clinical`` covariates
        (:func:`clinical_covariates`), the rows' ``centers``."""
        scan = image
        image = self._fit_kvp(image, centers)
        values = image.to_numpy(dtype=float)
        medians = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=0)
        usable = np.isfinite(medians)
        filled = np.where(np.isfinite(values), values, medians)
        usable &= np.nanstd(filled, axis=0) > 0
        self.image_columns_ = [c for c, u in zip(image.columns, usable, strict=True) if u]
        self.medians_ = medians[usable]
        clin = clinical.to_numpy(dtype=float)
        self.clinical_medians_ = np.nan_to_num(np.nanmedian(clin, axis=0), nan=0.0)
        clin = np.where(np.isnan(clin), self.clinical_medians_, clin)
        x = filled[:, usable]
        if self.harmonise:
            protected, adjust = self._combat_inputs(scan, clin, centers)
            self.combat_ = ComBat().fit(x, centers, protected, adjust)
            x = self.combat_.transform(x, centers, protected, adjust)
        names = list(clinical.columns) + self._ordered(self.image_columns_)
        joined = np.hstack([clin, x])[:, self._order(clinical.shape[1])]
        constant = joined.std(axis=0) == 0
        keep = _spearman_duplicates(joined, self.duplicate_rho) & ~constant
        self.keep_ = keep
        self.names_ = [n for n, k in zip(names, keep, strict=True) if k]
        kept = joined[:, keep]
        self.mean_, self.scale_ = kept.mean(axis=0), kept.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        logger.debug("radiomics preprocessing keeps %d of %d features", keep.sum(), keep.size)
        return self

    def _ordered(self, columns: list[str]) -> list[str]:
        solid = [c for c in columns if c.startswith(SOLID_PREFIX)]
        return solid + [c for c in columns if not c.startswith(SOLID_PREFIX)]

    def _order(self, n_clinical: int) -> IntArray:
        """Column order of [clinical, image] for the stable duplicate removal."""
        solid = [i for i, c in enumerate(self.image_columns_) if c.startswith(SOLID_PREFIX)]
        rest = [i for i, c in enumerate(self.image_columns_) if not c.startswith(SOLID_PREFIX)]
        return np.array(list(range(n_clinical)) + [n_clinical + i for i in solid + rest])

    def transform(
        self, image: pd.DataFrame, clinical: pd.DataFrame, centers: NDArray[np.object_]
    ) -> FloatArray:
        """The model's input matrix for any rows (scaled, the kept features only)."""
        values = image.reindex(columns=self.image_columns_).to_numpy(dtype=float)
        x = np.where(np.isfinite(values), values, self.medians_)
        clin = clinical.to_numpy(dtype=float)
        clin = np.where(np.isnan(clin), self.clinical_medians_, clin)
        if self.combat_ is not None:
            protected, adjust = self._combat_inputs(image, clin, centers)
            x = self.combat_.transform(x, centers, protected, adjust)
        joined = np.hstack([clin, x])[:, self._order(clinical.shape[1])]
        return np.asarray((joined[:, self.keep_] - self.mean_) / self.scale_, dtype=np.float64)


class TakeColumns(TransformerMixin, BaseEstimator):
    """Keep the columns ``indices`` (a feature group of the search)."""

    def __init__(self, indices: tuple[int, ...] = ()) -> None:
        self.indices = indices

    def fit(self, x: FloatArray, y: Any = None) -> TakeColumns:
        return self

    def transform(self, x: FloatArray) -> FloatArray:
        return np.asarray(x)[:, list(self.indices)]


@dataclass(frozen=True)
class Candidate:
    """One classifier with its hyper-parameters, the feature group it reads (the columns whose
    names start with one of ``group``; None: all) and the number of features it selects."""

    name: str
    estimator: Any
    k: int | None = None  # None: every feature
    group: tuple[str, ...] | None = None

    def build(self, names: list[str], smallest_class: int) -> Pipeline:
        """An unfitted pipeline on the preprocessed columns ``names``: the feature group,
        univariate selection (when k < features), the classifier.

        A classifier without probabilities of its own (the SVM) gets Platt scaling fitted by
        an internal cross-validation of up to 3 folds (no more than ``smallest_class``, the
        fewest training rows of a class)."""
        steps: list[tuple[str, Any]] = []
        n_features = len(names)
        if self.group is not None:
            group = self.group
            indices = tuple(i for i, n in enumerate(names) if n.startswith(group))
            if indices:  # (a group the preprocessing emptied: every feature instead)
                steps.append(("group", TakeColumns(indices)))
                n_features = len(indices)
        if self.k is not None and self.k < n_features:
            steps.append(("select", SelectKBest(f_classif, k=self.k)))
        estimator = clone(self.estimator)
        if not hasattr(estimator, "predict_proba"):
            folds = min(3, smallest_class)
            estimator = CalibratedClassifierCV(estimator, cv=folds, ensemble=False)
        steps.append(("classifier", estimator))
        return Pipeline(steps)


def _candidates(settings: SearchSettings, seed: int) -> list[Candidate]:
    out: list[Candidate] = []
    for group in settings.feature_groups:
        where = "all" if group is None else "+".join(p.rstrip("_") for p in group)
        for k in settings.k_features:
            for c in settings.logistic_c:
                model = LogisticRegression(
                    C=c, class_weight="balanced", max_iter=3000, random_state=seed
                )
                out.append(Candidate(f"logistic C={c} k={k} {where}", model, k, group))
            for c in settings.svm_c:
                svm = SVC(C=c, class_weight="balanced", random_state=seed)
                out.append(Candidate(f"svm-rbf C={c} k={k} {where}", svm, k, group))
            for depth in settings.forest_depths:
                forest = RandomForestClassifier(
                    n_estimators=settings.forest_trees,
                    max_depth=depth,
                    min_samples_leaf=3,
                    class_weight="balanced",
                    random_state=seed,
                    n_jobs=1,
                )
                name = f"random-forest depth={depth} k={k} {where}"
                out.append(Candidate(name, forest, k, group))
    return out


def search_candidates(settings: SearchSettings) -> int:
    """How many candidates the grid of ``settings`` holds (before any SVM is left out for too
    few rows of a class to calibrate it)."""
    return len(_candidates(settings, 0))


@dataclass(frozen=True)
class SearchSettings:
    """The model search's grid and its cost (the defaults: 16 candidates, all kept, so no
    inner splits; a smaller ``ensemble_size`` scores each over 6 inner splits per fit).
    ``feature_groups``: the columns a candidate may read, as name prefixes (None: all;
    ``clin_``: the clinical covariates, ``solid_``: the solid part's features), searched like
    any other hyper-parameter, as WORC searches feature groups.

    ``ensemble_size``: how many of the best candidates the model averages; the default keeps
    all 16 of the default grid: at 400 patients all 16 fitted on the genotype classes beat the
    best 3 fitted on two (README, "Learning curves"; the two changes were measured together).
    With every candidate kept no inner cross-validation runs: it could not change the model.
    ``genotype_classes``: a KIT exon 11 vs rest model fits its candidates
    on the four genotype classes and gives their probability of KIT exon 11 (KIT exon 9 lies
    above exon 11 in enhancement and PDGFRA below, which one line between "exon 11" and
    "rest" cannot follow); :class:`~gistcad.modelling.radiomics_model.RadiomicsLearner` reads
    it, other targets fit their own classes."""

    feature_groups: tuple[tuple[str, ...] | None, ...] = (None, ("clin_", "solid_"))
    k_features: tuple[int | None, ...] = (10, None)
    logistic_c: tuple[float, ...] = (0.02, 0.2)
    svm_c: tuple[float, ...] = (1.0,)
    forest_depths: tuple[int | None, ...] = (4,)
    forest_trees: int = 150
    inner_folds: int = 3
    inner_repeats: int = 2
    ensemble_size: int = 16
    harmonise: bool = True
    genotype_classes: bool = True

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> SearchSettings:
        """The settings that :func:`dataclasses.asdict` wrote (JSON lists back to tuples); a
        setting added since takes its default, except ``genotype_classes``: settings stored
        before it existed fitted the task's own classes."""
        given = {**asdict(cls()), "genotype_classes": False, **stored}

        def numbers(key: str) -> tuple[Any, ...]:
            return tuple(given[key])

        groups = tuple(None if g is None else tuple(g) for g in given["feature_groups"])
        return cls(
            feature_groups=groups,
            k_features=numbers("k_features"),
            logistic_c=numbers("logistic_c"),
            svm_c=numbers("svm_c"),
            forest_depths=numbers("forest_depths"),
            forest_trees=int(given["forest_trees"]),
            inner_folds=int(given["inner_folds"]),
            inner_repeats=int(given["inner_repeats"]),
            ensemble_size=int(given["ensemble_size"]),
            harmonise=bool(given["harmonise"]),
            genotype_classes=bool(given["genotype_classes"]),
        )


def macro_auc(labels: IntArray, proba: FloatArray, classes: IntArray) -> float:
    """One-vs-rest AUC averaged over the classes that have positives and negatives here
    (binary: the AUC of the second class); NaN when none has."""
    if len(classes) == 2 and proba.shape[1] == 2:
        if len(np.unique(labels)) < 2:
            return float("nan")
        return float(roc_auc_score(labels == classes[1], proba[:, 1]))
    aucs = [
        roc_auc_score(labels == c, proba[:, i])
        for i, c in enumerate(classes)
        if 0 < (labels == c).sum() < len(labels)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def _class_auc(labels: IntArray, proba: FloatArray, classes: IntArray, which: int) -> float:
    """The one-vs-rest AUC of class ``which``; NaN when the rows lack it or its rest."""
    positive = labels == which
    if which not in classes or positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, proba[:, list(classes).index(which)]))


def _proba(model: ClassifierMixin, x: FloatArray, classes: IntArray) -> FloatArray:
    """Probabilities in the column order of ``classes`` (0 for a class the model never saw)."""
    raw = model.predict_proba(x)
    out = np.zeros((x.shape[0], len(classes)))
    seen = list(model.classes_)
    for i, c in enumerate(classes):
        if c in seen:
            out[:, i] = raw[:, seen.index(c)]
    return out


#: the fewest training rows of a class the SVM's Platt scaling needs (its 2-fold calibration)
MIN_CALIBRATION = 2


def _smallest(labels: IntArray) -> int:
    """The fewest rows of a class present in ``labels``."""
    counts = np.bincount(labels)
    return int(counts[counts > 0].min()) if labels.size else 0


def _inner_splits(
    labels: IntArray,
    centers: NDArray[np.object_],
    settings: SearchSettings,
    seed: int,
    by_center: bool,
) -> list[tuple[IntArray, IntArray]]:
    rows = np.arange(len(labels))
    if by_center and len(np.unique(centers.astype(str))) >= 2:
        return list(LeaveOneGroupOut().split(rows, labels, groups=centers.astype(str)))
    smallest = _smallest(labels)
    # as many folds as asked, but no more than the smallest class has members (at least 2)
    n_splits = max(2, min(settings.inner_folds, smallest))
    splits: list[tuple[IntArray, IntArray]] = []
    for repeat in range(settings.inner_repeats):
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + repeat)
        splits.extend(folds.split(rows, labels))
    return splits


@dataclass
class Ensemble:
    """The fitted model: preprocessing and the best classifiers (mean of probabilities)."""

    preprocessing: Preprocessing
    members: list[ClassifierMixin]
    names: list[str]
    classes: IntArray
    scores: dict[str, float]

    def predict_proba(
        self, image: pd.DataFrame, clinical: pd.DataFrame, centers: NDArray[np.object_]
    ) -> FloatArray:
        """Mean class probabilities of the members, columns in the order of ``classes``."""
        x = self.preprocessing.transform(image, clinical, centers)
        return np.mean([_proba(m, x, self.classes) for m in self.members], axis=0)


def search(
    image: pd.DataFrame,
    clinical: pd.DataFrame,
    centers: NDArray[np.object_],
    labels: IntArray,
    settings: SearchSettings,
    *,
    seed: int = 0,
    by_center: bool = False,
    score_class: int | None = None,
) -> Ensemble:
    """Score every candidate by inner cross-validation, refit the best ``ensemble_size`` on
    all rows.

    Parameters
    ----------
    image, clinical : pandas.DataFrame
        The training rows' image features and :func:`clinical_covariates`.
    centers : ndarray
        Each row's center (ComBat's batch; the inner split's group under ``by_center``).
    labels : ndarray of int
        Class of each row.
    settings : SearchSettings
        Grid, inner splits, ensemble size.
    score_class : int, optional
        Score the candidates by the one-vs-rest AUC of this class alone (the task's class
        when the labels are finer than the task: KIT exon 11 among the genotype classes),
        not by the macro AUC of every class.

    Returns
    -------
    Ensemble
        Its ``scores`` give every candidate's mean inner AUC (NaN when the ensemble keeps
        every candidate: then no inner cross-validation runs, it could not change the model).
    """
    classes = np.unique(labels)
    candidates = _candidates(settings, seed)
    svm_possible = _smallest(labels) >= 2 * MIN_CALIBRATION
    if not svm_possible:  # too few of a class to calibrate an SVM's scores
        candidates = [c for c in candidates if hasattr(c.estimator, "predict_proba")]
    totals = np.zeros(len(candidates))
    counts = np.zeros(len(candidates))
    # an ensemble of every candidate leaves nothing to choose: no inner cross-validation
    choose = settings.ensemble_size < len(candidates)
    splits = _inner_splits(labels, centers, settings, seed, by_center) if choose else []
    for train, test in splits:
        smallest = _smallest(labels[train])
        if len(np.unique(labels[train])) < 2:
            continue
        prep = Preprocessing(harmonise=settings.harmonise).fit(
            image.iloc[train], clinical.iloc[train], centers[train]
        )
        x_train = prep.transform(image.iloc[train], clinical.iloc[train], centers[train])
        x_test = prep.transform(image.iloc[test], clinical.iloc[test], centers[test])
        for i, candidate in enumerate(candidates):
            if smallest < MIN_CALIBRATION and not hasattr(candidate.estimator, "predict_proba"):
                continue  # this split leaves too few of a class to calibrate the SVM
            model = candidate.build(prep.names_, smallest).fit(x_train, labels[train])
            proba = _proba(model, x_test, classes)
            if score_class is None:
                auc = macro_auc(labels[test], proba, classes)
            else:
                auc = _class_auc(labels[test], proba, classes, score_class)
            if np.isfinite(auc):
                totals[i] += auc
                counts[i] += 1
    mean = np.where(counts > 0, totals / np.maximum(counts, 1), 0.5 if choose else np.nan)
    order = np.argsort(-mean, kind="stable")[: settings.ensemble_size]
    prep = Preprocessing(harmonise=settings.harmonise).fit(image, clinical, centers)
    x = prep.transform(image, clinical, centers)
    smallest = _smallest(labels)
    members = [candidates[i].build(prep.names_, smallest).fit(x, labels) for i in order]
    scores = {c.name: float(m) for c, m in zip(candidates, mean, strict=True)}
    logger.info("radiomics ensemble: %s", ", ".join(candidates[i].name for i in order))
    return Ensemble(prep, members, [candidates[i].name for i in order], classes, scores)
