"""Benchmark: learning curves of the models against the synthetic references (issue 15).

For each cohort size and seed, a synthetic cohort is built with
:func:`gistcad.synth.build.build_cohort`, imported through the ordinary importer
(:func:`gistcad.demo_cohort.import_demo_cohort`) into a fresh data folder, and every model
predicts KIT exon 11 vs rest out of fold on the SAME hash-dealt 5 folds (one
:func:`~gistcad.modelling.folds.plan_folds` per cohort, as ``gistcad train --folds-from`` would
keep them):

- ``clinical``, ``radiomics``, ``deep``: the learners ``gistcad train --model clinical |
  radiomics | dl --target kit11`` uses (:func:`gistcad.modelling.trainer.make_learner`), so
  the bench measures what the command trains, without the final fit on all patients; the
  radiomics model is the WORC-style search (the solid part's features, ComBat, clinical
  covariates, near-duplicate removal, a search over classifiers fitted on the four genotype
  classes, an ensemble of all 16 candidates);
- ``radiomics-best3``: the search as it was before (fitted on KIT exon 11 vs rest, the best
  three candidates averaged), to measure the change on the same folds;
- ``radiomics-bin10``, ``radiomics-bin5``: the search on features discretised in bins of 10
  or 5 HU instead of 25 (``RadiomicsSettings.bin_width_hu``), to measure the bin width against
  the genotype's effects of a few HU on the same folds;
- ``logistic``: the radiomics model trained before the search, ``gistcad train --model
  radiomics --radiomics logistic`` (a tuned logistic regression on the whole tumour's
  features);
- ``six``: the six-measurement baseline of the issue, run with ``radiomics`` or ``logistic`` —
  a 4-class logistic regression on the solid part's 10th, 50th and 90th HU percentiles, its
  necrosis share, its texture SD (IQR / 1.349) and the tumour's solidity (volume / convex
  hull), with site, size, age and sex, scored by its probability of KIT exon 11;
- ``deep-unharmonised``: the deep model without its harmonisation (``DlSettings.harmonise``
  off), to measure what ComBat of the tumour's CT level adds on the same folds (DeLong against
  ``deep``); not one of the image models of the targets. Each fold's harmonisation terms
  (the centers' shifts in HU) are printed as the deep model fits it.

A patient whose tumour outline covers no voxel of the CT (a tiny tumour's contour) is left
out of the cohort, with a line naming it, as radiomics and the deep model leave it out; so
every model is judged on the same patients.

Per model: the pooled out-of-fold AUC with its patient bootstrap CI, the mean of the
per-center AUCs, and DeLong's paired test against every model run before it on the same
patients; per cohort, the ``observable``, ``latent`` and ``latent_with_age_sex`` references of
its ``ceiling.json`` (KIT exon 11 vs rest). A table per size gives the mean over seeds with
the seeds' range and CIs and the ratio to ``observable``; then the issue's targets as PASS,
FAIL or NOT RUN (a size or model the run did not include):

- radiomics >= the six-measurement baseline at 400 patients (mean over seeds);
- radiomics > clinical at 400 patients with DeLong p < 0.05 in every seed;
- deep >= radiomics at 1,400 patients (mean over seeds);
- the best image model >= 0.9 x ``observable`` at 1,400 patients (means over seeds);
- no model above ``latent_with_age_sex`` on any cohort run.

Usage (minutes per 200-patient cohort on 2 cores; at 1,400 patients on one thread beside
other work, 4–15 minutes to build and import the cohort, 12–17 to extract its features and
6–13 for ``deep``'s five folds, up to 32 on busier cores)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/learning_curve.py \\
        --sizes 200 400 --seeds 1 2 3 --models clinical radiomics --matrix 96
    .venv/bin/python bench/learning_curve.py --matrix 256 --scan-length 200 --json lc.json
    # on a GPU: the deep model in mixed precision, its crops read by four processes
    .venv/bin/python bench/learning_curve.py --matrix 256 --device cuda --precision bf16 \\
        --loader-workers 4 --models clinical radiomics deep --sizes 1400 --json lc_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.synth.observation import IQR_PER_SD

#: the models a run may ask for, in the order they are trained (and compared: each against
#: those before it); ``six`` comes with ``radiomics`` or ``logistic``
MODELS = (
    "clinical",
    "radiomics",
    "radiomics-best3",
    "radiomics-bin10",
    "radiomics-bin5",
    "logistic",
    "deep",
    "deep-unharmonised",
)
ORDER = (
    "clinical",
    "six",
    "logistic",
    "radiomics-best3",
    "radiomics",
    "radiomics-bin10",
    "radiomics-bin5",
    "deep",
    "deep-unharmonised",
)
#: the search before the genotype classes and the whole ensemble (README "Learning curves")
BEST3 = {"ensemble_size": 3, "genotype_classes": False}
#: the search on features discretised with a finer bin than the default 25 HU (texture
#: matrices; the percentiles and statistics do not bin), HU per bin
FINER_BINS = {"radiomics-bin10": 10.0, "radiomics-bin5": 5.0}
IMAGE_MODELS = ("radiomics", "logistic", "deep")
#: the model names rows carry: 3 since ``radiomics`` is the search fitted on the genotype
#: classes with all its candidates; rows of version 2 called the search before it
#: (``radiomics-best3`` now) ``radiomics``, rows of version 1 (without the key) called it
#: ``search`` and the tuned logistic regression ``radiomics`` (:func:`read_rows` renames them)
NAMING = 3
_NAMES_BEFORE = {
    1: {"radiomics": "logistic", "search": "radiomics-best3"},
    2: {"radiomics": "radiomics-best3"},
}
#: the references of ceiling.json printed beside the models (KIT exon 11 vs rest)
REFERENCES = ("observable", "latent", "latent_with_age_sex")
#: the sizes the issue's targets name
TARGET_SIZE_RADIOMICS, TARGET_SIZE_FULL = 400, 1400
#: the share of ``observable`` the best image model must reach at 1,400 patients
OBSERVABLE_SHARE = 0.9
ALPHA = 0.05
#: the six measurements of the baseline: the solid part's percentiles, necrosis share and
#: texture SD (:mod:`gistcad.features.solid_part`), and solidity (IBSI volume density of
#: the convex hull)
SIX_COLUMNS = (
    "solid_p10",
    "solid_p50",
    "solid_p90",
    "solid_necrosis_share",
    "solid_stat_iqr",
    "morph_vol_dens_conv_hull",
)


@dataclass(frozen=True)
class Row:
    """One model on one cohort: what ``--json`` writes and the tables aggregate."""

    size: int
    seed: int
    model: str
    auc: float
    ci_lower: float
    ci_upper: float
    center_mean_auc: float
    n: int
    n_positive: int
    seconds: float
    references: dict[str, float]
    #: DeLong's two-sided p against each model trained before it on the same patients
    delong_p: dict[str, float] = field(default_factory=dict)
    naming: int = NAMING


@dataclass(frozen=True)
class Summary:
    """One model at one size, over the seeds."""

    size: int
    model: str
    seeds: tuple[int, ...]
    mean_auc: float
    lowest: float
    highest: float
    cis: tuple[tuple[float, float], ...]
    references: dict[str, float]  # mean over the same seeds

    @property
    def ratio_to_observable(self) -> float:
        """Mean AUC / mean ``observable`` AUC (NaN without the reference)."""
        observable = self.references.get("observable", float("nan"))
        return self.mean_auc / observable if observable > 0 else float("nan")


@dataclass(frozen=True)
class Verdict:
    target: str
    status: str  # PASS, FAIL or NOT RUN
    detail: str

    def __str__(self) -> str:
        return f"{self.status:7s}  {self.target}: {self.detail}"


def summarise(rows: Iterable[Row]) -> dict[tuple[int, str], Summary]:
    """Per (size, model): the mean AUC over seeds, its range, each seed's CI and the mean of
    each reference over the same seeds."""
    groups: dict[tuple[int, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.size, row.model].append(row)
    out = {}
    for (size, model), runs in groups.items():
        runs.sort(key=lambda r: r.seed)
        aucs = np.array([r.auc for r in runs])
        names = set.intersection(*(set(r.references) for r in runs))
        out[size, model] = Summary(
            size=size,
            model=model,
            seeds=tuple(r.seed for r in runs),
            mean_auc=float(aucs.mean()),
            lowest=float(aucs.min()),
            highest=float(aucs.max()),
            cis=tuple((r.ci_lower, r.ci_upper) for r in runs),
            references={k: float(np.mean([r.references[k] for r in runs])) for k in names},
        )
    return out


def _missing(summaries: Mapping[tuple[int, str], Summary], size: int, models: Sequence[str]) -> str:
    absent = [m for m in models if (size, m) not in summaries]
    return f"no {', '.join(absent)} at {size:,} patients in this run" if absent else ""


def verdicts(rows: Sequence[Row]) -> list[Verdict]:
    """The issue's targets on ``rows`` (see the module docstring), each PASS, FAIL or NOT RUN."""
    summaries = summarise(rows)
    out = []
    small, full = TARGET_SIZE_RADIOMICS, TARGET_SIZE_FULL

    name = f"radiomics >= six-measurement baseline at {small}"
    missing = _missing(summaries, small, ("radiomics", "six"))
    if missing:
        out.append(Verdict(name, "NOT RUN", missing))
    else:
        rad, six = summaries[small, "radiomics"], summaries[small, "six"]
        status = "PASS" if rad.mean_auc >= six.mean_auc else "FAIL"
        seeds = f"{len(rad.seeds)} seed{'s' if len(rad.seeds) != 1 else ''}"
        detail = f"mean AUC {rad.mean_auc:.3f} vs {six.mean_auc:.3f} over {seeds}"
        out.append(Verdict(name, status, detail))

    name = f"radiomics > clinical with DeLong p < {ALPHA:g} at {small} (every seed)"
    missing = _missing(summaries, small, ("radiomics", "clinical"))
    if missing:
        out.append(Verdict(name, "NOT RUN", missing))
    else:
        runs = [r for r in rows if r.size == small and r.model == "radiomics"]
        clinical = {r.seed: r.auc for r in rows if r.size == small and r.model == "clinical"}
        wins = [
            r
            for r in runs
            if r.seed in clinical
            and r.auc > clinical[r.seed]
            and r.delong_p.get("clinical", 1.0) < ALPHA
        ]
        ps = ", ".join(
            f"seed {r.seed} p = {r.delong_p.get('clinical', float('nan')):.3g}" for r in runs
        )
        status = "PASS" if len(wins) == len(runs) else "FAIL"
        out.append(Verdict(name, status, f"significant in {len(wins)}/{len(runs)} seeds ({ps})"))

    name = f"deep >= radiomics at {full:,}"
    missing = _missing(summaries, full, ("deep", "radiomics"))
    if missing:
        out.append(Verdict(name, "NOT RUN", missing))
    else:
        deep, rad = summaries[full, "deep"], summaries[full, "radiomics"]
        status = "PASS" if deep.mean_auc >= rad.mean_auc else "FAIL"
        out.append(Verdict(name, status, f"mean AUC {deep.mean_auc:.3f} vs {rad.mean_auc:.3f}"))

    name = f"best image model >= {OBSERVABLE_SHARE:g} x observable at {full:,}"
    image = [summaries[full, m] for m in IMAGE_MODELS if (full, m) in summaries]
    if not image:
        out.append(Verdict(name, "NOT RUN", f"no image model at {full:,} patients in this run"))
    elif "observable" not in image[0].references:
        out.append(Verdict(name, "NOT RUN", "the cohorts' ceiling.json has no observable"))
    else:
        best = max(image, key=lambda s: s.mean_auc)
        observable = best.references["observable"]
        status = "PASS" if best.mean_auc >= OBSERVABLE_SHARE * observable else "FAIL"
        detail = (
            f"{best.model} {best.mean_auc:.3f} vs {OBSERVABLE_SHARE:g} x {observable:.3f} = "
            f"{OBSERVABLE_SHARE * observable:.3f} (ratio {best.ratio_to_observable:.2f})"
        )
        out.append(Verdict(name, status, detail))

    name = "no model above latent_with_age_sex"
    judged = [r for r in rows if "latent_with_age_sex" in r.references]
    if not judged:
        out.append(Verdict(name, "NOT RUN", "no cohort with latent_with_age_sex in this run"))
    else:
        above = [r for r in judged if r.auc > r.references["latent_with_age_sex"]]
        sizes = ", ".join(f"{s:,}" for s in sorted({r.size for r in judged}))
        if above:
            listed = "; ".join(
                f"{r.model} n={r.size} seed {r.seed} {r.auc:.3f} > "
                f"{r.references['latent_with_age_sex']:.3f}"
                for r in above
            )
            out.append(Verdict(name, "FAIL", listed))
        else:
            out.append(
                Verdict(name, "PASS", f"{len(judged)} model runs at {sizes} patients, none above")
            )
    return out


def table_lines(rows: Sequence[Row]) -> list[str]:
    """The per-size tables (markdown): mean AUC over seeds with the range, the seeds' CIs and
    the ratio to ``observable``, then the references."""
    summaries = summarise(rows)
    lines = []
    for size in sorted({s for s, _ in summaries}):
        lines += [
            "",
            f"{size:,} patients (KIT exon 11 vs rest, 5-fold out of fold, shared folds)",
            "| model | mean AUC | range | seeds' 95 % CI | / observable |",
            "| --- | --- | --- | --- | --- |",
        ]
        present = [m for m in ORDER if (size, m) in summaries]
        for model in present:
            s = summaries[size, model]
            cis = ", ".join(f"{lo:.2f}–{hi:.2f}" for lo, hi in s.cis)
            lines.append(
                f"| {model} | {s.mean_auc:.3f} | {s.lowest:.3f}–{s.highest:.3f} | {cis} | "
                f"{s.ratio_to_observable:.2f} |"
            )
        references = summaries[size, present[0]].references
        for name in REFERENCES:
            if name in references:
                lines.append(f"| {name} | {references[name]:.3f} | | | |")
    return lines


# ---- the runs (cohort builds, imports and training: not in the tests) ----------------------


def six_measurements(table: pd.DataFrame, data_dir: Path, workers: int | None) -> pd.DataFrame:
    """The six measurements of every row's tumour with the clinical covariates (site, log size,
    age, sex), from the solid-part radiomics features (computed once, cached)."""
    from gistcad.modelling.radiomics_model import RadiomicsSettings, feature_table
    from gistcad.modelling.radiomics_search import clinical_covariates

    features = feature_table(table, data_dir, RadiomicsSettings(solid_part=True), workers=workers)
    return pd.concat([six_of(features), clinical_covariates(table)], axis=1)


def six_of(features: pd.DataFrame) -> pd.DataFrame:
    """The six measurements out of the solid-part radiomics features: the texture SD is the
    solid part's IQR / 1.349 (robust SD, as the generator's observation measures it)."""
    missing = [c for c in SIX_COLUMNS if c not in features]
    if missing:
        raise ValueError(f"the features lack {missing}: compute them with solid_part=True")
    six = features[list(SIX_COLUMNS)].reset_index(drop=True)
    six = six.assign(solid_stat_iqr=six["solid_stat_iqr"] / IQR_PER_SD)
    return six.rename(columns={"solid_stat_iqr": "solid_texture_sd"})


def six_measurement_model(seed: int) -> Any:
    """The baseline's 4-class logistic regression (median imputation for a tumour without a
    solid part, standardised inputs): a scikit-learn pipeline."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=3000, random_state=seed),
    )


FitPredict = Callable[[NDArray[np.int64], NDArray[np.int64]], Any]


def six_fit_predict(
    x: pd.DataFrame, genotype: NDArray[np.int64], n_classes: int, seed: int
) -> FitPredict:
    """The six-measurement baseline as a fold's fit-and-predict: the probability of each of
    the ``n_classes`` genotype classes for the test rows."""

    def fit_predict(train: NDArray[np.int64], test: NDArray[np.int64]) -> Any:
        fitted = six_measurement_model(seed).fit(x.iloc[train], genotype[train])
        out = np.zeros((test.size, n_classes))
        out[:, fitted.classes_] = fitted.predict_proba(x.iloc[test])
        return out

    return fit_predict


@dataclass
class Cohort:
    """One imported cohort: its modelling table (patients with a mask and a known KIT exon
    11 status), their labels, the shared folds and the references of its ceiling.json."""

    data: Path
    table: pd.DataFrame
    binary: NDArray[np.int64]
    plan: Any
    references: dict[str, float]
    seed: int


def build_and_import(args: argparse.Namespace, size: int, seed: int, work: Path) -> Cohort:
    """Build the cohort with the project's generator, import it with the ordinary importer
    into a fresh data folder under ``work``, and deal the folds every model shares."""
    from gistcad.demo_cohort import import_demo_cohort
    from gistcad.store import AccessScope, make_engine
    from gistcad.store.migrations import upgrade
    from gistcad.synth.build import BuildOptions, build_cohort

    cohort, data = work / "cohort", work / "data"
    options = BuildOptions(
        out=cohort,
        patients=size,
        seed=seed,
        signal=args.signal,
        matrix=args.matrix,
        scan_length_mm=args.scan_length,
        workers=args.workers,
        follow_up=False,
    )
    build_cohort(options)
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    upgrade(engine)
    import_demo_cohort(engine, data, AccessScope.everything(), cohort)
    engine.dispose()
    references = json.loads((cohort / "ceiling.json").read_text())["references"]
    shutil.rmtree(cohort)  # imported; ceiling.json read
    kit11 = {k: float(references[k]["kit11_vs_rest"]) for k in REFERENCES if k in references}
    return imported_cohort(data, kit11, seed)


def imported_cohort(data: Path, references: dict[str, float], seed: int) -> Cohort:
    """The cohort imported into ``data``: the patients with an outline covering a voxel of
    their CT and a known KIT exon 11 status, their labels and the folds every model shares
    (dealt with ``seed``); ``references``: its ceiling.json's KIT exon 11 vs rest AUCs."""
    import nibabel as nib

    from gistcad.modelling.folds import Scheme, plan_folds
    from gistcad.modelling.targets import Target, labels_for
    from gistcad.store import AccessScope, make_engine, session_scope
    from gistcad.store.model_queries import modelling_table

    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with session_scope(engine) as session:
        table = modelling_table(session, AccessScope.everything())
    engine.dispose()
    table = table[table["mask_path"].notna()].reset_index(drop=True)
    table = table[labels_for(table, Target.KIT11) >= 0].reset_index(drop=True)
    # an outline covering no voxel (a tiny tumour's contour) is left out by radiomics and the
    # deep model: out of the cohort, so that every model is judged on the same patients (a
    # tumour without a voxel in radiomics' HU range stays: radiomics imputes its features)
    outlined = [bool(np.asarray(nib.load(data / p).dataobj).any()) for p in table["mask_path"]]
    if not all(outlined):
        empty = table.loc[~np.array(outlined), "pseudonym"]
        print(
            f"  {len(empty)} patient(s) left out, their outline covers no voxel: {', '.join(empty)}"
        )
        table = table[outlined].reset_index(drop=True)
    binary = labels_for(table, Target.KIT11)
    centers = table["center"].to_numpy(dtype=object)
    keys = [str(p) for p in table["pseudonym"]]
    return Cohort(
        data=data,
        table=table,
        binary=binary,
        plan=plan_folds(binary, keys, centers, Scheme.KFOLD, seed=seed),
        references=references,
        seed=seed,
    )


def kit11_scores(args: argparse.Namespace, cohort: Cohort, model: str) -> pd.DataFrame:
    """``model``'s out-of-fold probability of KIT exon 11 (``score``) and center per patient
    id, on the cohort's shared folds."""
    from gistcad.domain import ModelKind
    from gistcad.modelling.crossval import out_of_fold
    from gistcad.modelling.dl_model import DlLearner
    from gistcad.modelling.folds import Scheme
    from gistcad.modelling.radiomics_model import RadiomicsLearner, feature_table
    from gistcad.modelling.request import TrainRequest
    from gistcad.modelling.targets import Target, labels_for
    from gistcad.modelling.trainer import make_learner

    table, seed = cohort.table, cohort.seed
    fit_predict: FitPredict
    if model == "six":  # four classes, KIT exon 11 the first
        labels, target, kit11 = labels_for(table, Target.GENOTYPE), Target.GENOTYPE, 0
        x = six_measurements(table, cohort.data, args.workers)
        fit_predict = six_fit_predict(x, labels, len(target.classes), seed)
    else:  # KIT exon 11 vs rest: the positive class last
        labels, target, kit11 = cohort.binary, Target.KIT11, 1
        deep = {"deep", "deep-unharmonised"}
        kind = {"clinical": ModelKind.CLINICAL, **dict.fromkeys(deep, ModelKind.DL)}
        request = TrainRequest(
            kind=kind.get(model, ModelKind.RADIOMICS),
            target=target,
            seed=seed,
            epochs=args.epochs if model in deep else None,
            radiomics="logistic" if model == "logistic" else "search",
            precision=args.precision if model in deep else "fp32",
        )
        workers = args.loader_workers if model in deep else 0
        learner = make_learner(request, cohort.data, device=args.device, loader_workers=workers)
        if isinstance(learner, DlLearner) and model == "deep-unharmonised":
            learner.settings = replace(learner.settings, harmonise=False)
        if isinstance(learner, RadiomicsLearner) and model == "radiomics-best3":
            assert learner.search_settings is not None
            learner.search_settings = replace(learner.search_settings, **BEST3)
        if isinstance(learner, RadiomicsLearner) and model in FINER_BINS:
            learner.settings = replace(learner.settings, bin_width_hu=FINER_BINS[model])
            # its own features (another cache key), extracted by --workers processes
            feature_table(table, cohort.data, learner.settings, workers=args.workers)
        if isinstance(learner, RadiomicsLearner):
            # every patient's features once, cached (the logistic pipeline's read from six's)
            learner.prepare(table, None)

        def fit_predict(train: NDArray[np.int64], test: NDArray[np.int64]) -> Any:
            return learner.fit_predict(table, labels, train, test)

    oof = out_of_fold(
        table, labels, target.classes, Scheme.KFOLD, fit_predict, seed=seed, plan=cohort.plan
    )
    column = f"p_{target.classes[kit11]}"
    return oof.set_index("patient_id")[[column, "center"]].rename(columns={column: "score"})


def run_cohort(args: argparse.Namespace, size: int, seed: int, work: Path) -> list[Row]:
    """Build and import one cohort, train every asked model on its shared folds, print a
    progress line per model and return their rows."""
    from gistcad.analysis.performance import bootstrap_auc, center_mean_auc, delong_test

    tag = f"n={size:<5d} seed {seed}"
    started = time.perf_counter()
    cohort = build_and_import(args, size, seed, work)
    print(f"{tag}  built and imported ({time.perf_counter() - started:.0f} s)", flush=True)
    truth = pd.Series(cohort.binary, index=cohort.table["patient_id"])
    radiomics = {"radiomics", "radiomics-best3", "logistic"} & set(args.models)
    asked = [m for m in ORDER if m in args.models or (m == "six" and radiomics)]
    scores: dict[str, pd.DataFrame] = {}
    rows = []
    for model in asked:
        began = time.perf_counter()
        oof = scores[model] = kit11_scores(args, cohort, model)
        y = truth.loc[oof.index].to_numpy()
        estimate = bootstrap_auc(oof["score"], y, seed=seed)
        by_center = center_mean_auc(oof["score"], y, oof["center"], seed=seed)
        delong = {
            other: delong_test(oof["score"], scores[other]["score"].loc[oof.index], y).p_value
            for other in scores
            if other != model
        }
        row = Row(
            size=size,
            seed=seed,
            model=model,
            auc=estimate.auc,
            ci_lower=estimate.ci_lower,
            ci_upper=estimate.ci_upper,
            center_mean_auc=by_center.auc,
            n=estimate.n,
            n_positive=estimate.n_positive,
            seconds=time.perf_counter() - began,
            references=cohort.references,
            delong_p=delong,
        )
        rows.append(row)
        tests = "  ".join(f"vs {k} p={p:.3g}" for k, p in delong.items())
        print(
            f"{tag}  {model:9s} AUC {estimate}  center mean {by_center.auc:.3f}  "
            f"observable {cohort.references.get('observable', float('nan')):.3f}  {tests}  "
            f"({row.seconds:.0f} s; {time.perf_counter() - started:.0f} s for this cohort)",
            flush=True,
        )
    shutil.rmtree(cohort.data)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 400, 800, 1400])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--matrix", type=int, default=256, help="in-plane pixels (tests: 96)")
    parser.add_argument("--scan-length", type=float, default=200.0, help="mm (tests: 40)")
    parser.add_argument("--signal", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, help="deep model (default: DlSettings')")
    parser.add_argument("--device", default="auto", help="deep model: auto, cpu or cuda")
    parser.add_argument(
        "--precision", default="fp32", help="deep model: fp32, bf16 or fp16 (CUDA), as in train"
    )
    parser.add_argument(
        "--loader-workers", type=int, default=0, help="deep model: data-loader processes"
    )
    parser.add_argument("--workers", type=int, help="processes for images and features")
    parser.add_argument("--json", type=Path, help="write the raw rows here")
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="train nothing: print the tables and targets of the rows of earlier --json runs",
    )
    args = parser.parse_args()
    shown = logging.getLogger("gistcad.modelling.dl_model")  # the harmonisation's terms
    shown.setLevel(logging.INFO)
    shown.addHandler(logging.StreamHandler(sys.stdout))
    if args.report:
        report(read_rows(args.report))
        return
    rows: list[Row] = []
    started = time.perf_counter()
    for size in args.sizes:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory(prefix="gistcad-curve-") as folder:
                rows += run_cohort(args, size, seed, Path(folder))
            print(f"elapsed {time.perf_counter() - started:.0f} s", flush=True)
            if args.json:
                args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    report(rows)


def read_rows(paths: Sequence[Path]) -> list[Row]:
    """The rows that ``--json`` wrote, from one run or several (sizes or seeds run apart);
    rows written under an earlier :data:`NAMING` get today's model names."""
    return [_renamed(raw) for path in paths for raw in json.loads(path.read_text())]


def _renamed(raw: dict[str, Any]) -> Row:
    """A row of ``--json`` as :class:`Row`, its models named as :data:`NAMING` names them."""
    names = _NAMES_BEFORE.get(raw.get("naming", 1), {})
    delong = {names.get(k, k): v for k, v in raw.get("delong_p", {}).items()}
    model = names.get(raw["model"], raw["model"])
    raw = {**raw, "model": model, "delong_p": delong, "naming": NAMING}
    return Row(**raw)


def report(rows: Sequence[Row]) -> None:
    """Print the per-size tables and the targets' verdicts."""
    print("\n".join(table_lines(rows)))
    print("\ntargets")
    for verdict in verdicts(rows):
        print(verdict)


if __name__ == "__main__":
    main()
