"""Benchmark: the issue's radiomics targets at 400 patients, on many subsets of one cohort.

The learning-curve bench (``bench/learning_curve.py``) judges the targets at 400 patients on
three cohorts; each of their AUCs moves by about ±0.03 with the cohort and its folds, more than
the differences the targets ask about (radiomics against the six-measurement baseline). This
bench builds and imports one large cohort as that bench does (same generator options, same
patients left out), computes each tumour's features once, when a subset first needs them
(cached in the data folder), and draws ``--subsets`` random subsets of ``--size`` patients from
it. Each subset gets its own hash-dealt 5 folds (:func:`~gistcad.modelling.folds.plan_folds`,
seeded by the subset's number) and every model predicts KIT exon 11 vs rest out of fold on
them, as ``bench/learning_curve.py`` runs it: ``clinical``, ``six`` (the six measurements'
4-class logistic regression), ``radiomics`` (the search ``gistcad train`` trains) and, if
asked, ``radiomics-best3`` (the search before it fitted the genotype classes and averaged all
its candidates), ``radiomics-bin10`` and ``radiomics-bin5`` (the search on features binned by
10 or 5 HU instead of 25) and ``logistic`` (the radiomics pipeline before the search).

Printed per subset: each model's AUC and DeLong's p against the clinical model, the six
measurements, ``radiomics-best3`` and ``radiomics`` (those run before it). Then per model the
mean AUC over the subsets with their SD and range, and the two targets as the subsets see
them: radiomics minus six (mean paired difference, its SD and standard error over subsets, the
subsets where radiomics is at or above six; the same against ``radiomics-best3``, and each
finer bin against ``radiomics``, when run), and in how many subsets radiomics (and each model)
beats the clinical model with DeLong p < 0.05.

The subsets share patients (any two of 400 out of 1,400 about 115), so their spread
understates the spread between independent cohorts, and their mean and its standard error
hold for this one cohort; the three cohorts of the learning-curve bench are the other half of
the picture.

Usage (one thread; 4–15 minutes to build and import 1,400 patients, about 14 over all to
extract their features as the first subsets need them, then about 20 seconds per subset for
the three models)::

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/radiomics_subsets.py \\
        --patients 1400 --seed 2 --work /tmp/subsets_s2 --size 400 --subsets 30 --json s2.json

``--work`` keeps the imported cohort (``data/``; its generator options and references in
``cohort.json``): a second run with the same folder and options reuses it and the cached
features (``--first 40 --subsets 20`` then draws subsets 40–59; ``--json`` holds one run's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.learning_curve import (  # after the path: run as a script
    ALPHA,
    Cohort,
    build_and_import,
    imported_cohort,
    kit11_scores,
)

MODELS = (
    "clinical",
    "six",
    "radiomics-best3",
    "radiomics",
    "radiomics-bin10",
    "radiomics-bin5",
    "logistic",
)
#: the paired differences the summary prints: (model, against)
PAIRS = (
    ("radiomics", "six"),
    ("radiomics", "radiomics-best3"),
    ("radiomics-bin10", "radiomics"),
    ("radiomics-bin5", "radiomics"),
)


@dataclass(frozen=True)
class SubsetRow:
    """One model on one subset: what ``--json`` writes and :func:`summary_lines` reads."""

    subset: int
    model: str
    auc: float
    n: int
    #: DeLong's two-sided p against the clinical model, the six measurements and the search
    #: before (those run before this model)
    delong_p: dict[str, float] = field(default_factory=dict)


def subset_rows(n: int, size: int, seed: int, subset: int) -> NDArray[np.int64]:
    """The sorted rows of subset number ``subset`` of a cohort of ``n`` (the cohort's
    ``seed`` and the subset's number seed the draw: reproducible, other for each)."""
    if not 0 < size <= n:
        raise ValueError(f"a subset of {size} patients from a cohort of {n}")
    rng = np.random.default_rng([seed, subset])
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def subset_cohort(cohort: Cohort, rows: NDArray[np.int64], subset: int) -> Cohort:
    """The patients ``rows`` of ``cohort`` as a cohort of their own, with folds dealt on them
    alone (as a study of that size would deal them), seeded by the subset's number."""
    from gistcad.modelling.folds import Scheme, plan_folds

    table = cohort.table.iloc[rows].reset_index(drop=True)
    binary = cohort.binary[rows]
    keys = [str(p) for p in table["pseudonym"]]
    centers = table["center"].to_numpy(dtype=object)
    plan = plan_folds(binary, keys, centers, Scheme.KFOLD, seed=subset)
    return replace(cohort, table=table, binary=binary, plan=plan, seed=subset)


def measure_subset(args: argparse.Namespace, cohort: Cohort, subset: int) -> list[SubsetRow]:
    """Every asked model out of fold on one subset (the models in :data:`MODELS` order)."""
    from gistcad.analysis.performance import delong_test, roc_auc

    rows = subset_rows(len(cohort.table), args.size, cohort.seed, subset)
    part = subset_cohort(cohort, rows, subset)
    truth = part.binary
    scores: dict[str, NDArray[np.float64]] = {}
    out = []
    for model in [m for m in MODELS if m in args.models]:
        oof = kit11_scores(args, part, model)
        score = oof["score"].reindex(part.table["patient_id"]).to_numpy(dtype=float)
        scores[model] = score
        delong: dict[str, float] = {
            other: delong_test(score, scores[other], truth).p_value
            for other in ("clinical", "six", "radiomics-best3", "radiomics")
            if other in scores and other != model
        }
        out.append(SubsetRow(subset, model, roc_auc(score, truth), len(truth), delong))
    return out


def summary_lines(rows: list[SubsetRow]) -> list[str]:
    """Per model the mean AUC over the subsets (SD, range); radiomics against six (paired)
    and against clinical (DeLong p < :data:`ALPHA` with the higher AUC), per subset."""
    by_model: dict[str, dict[int, SubsetRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, {})[row.subset] = row
    lines = ["model           subsets  mean AUC  SD     range"]
    for model in [m for m in MODELS if m in by_model]:
        aucs = np.array([r.auc for r in by_model[model].values()])
        sd = float(aucs.std(ddof=1)) if aucs.size > 1 else float("nan")
        lines.append(
            f"{model:15s} {aucs.size:7d}  {aucs.mean():.3f}     {sd:.3f}  "
            f"{aucs.min():.3f}–{aucs.max():.3f}"
        )
    for first, other in PAIRS:
        if {first, other} <= by_model.keys():
            shared = sorted(by_model[first].keys() & by_model[other].keys())
            diff = np.array([by_model[first][s].auc - by_model[other][s].auc for s in shared])
            sd = float(diff.std(ddof=1)) if diff.size > 1 else float("nan")
            lines.append(
                f"{first} - {other}: mean {diff.mean():+.3f} (SD {sd:.3f}, SE "
                f"{sd / np.sqrt(diff.size):.3f}); {first} >= {other} in "
                f"{int((diff >= 0).sum())} of {diff.size} subsets"
            )
    if "clinical" in by_model:
        for model in [m for m in MODELS if m in by_model and m != "clinical"]:
            beats = [
                r.delong_p["clinical"] < ALPHA and r.auc > by_model["clinical"][s].auc
                for s, r in by_model[model].items()
                if s in by_model["clinical"] and "clinical" in r.delong_p
            ]
            lines.append(
                f"{model} > clinical with DeLong p < {ALPHA:g}: in {sum(beats)} of "
                f"{len(beats)} subsets"
            )
    return lines


#: the generator's options a kept cohort was built with (``cohort.json`` in ``--work``)
BUILD_OPTIONS = ("patients", "seed", "signal", "matrix", "scan_length")


def build_options(args: argparse.Namespace) -> dict[str, float]:
    """The options of ``args`` that make the cohort (:data:`BUILD_OPTIONS`)."""
    return {name: getattr(args, name) for name in BUILD_OPTIONS}


def load_or_build(args: argparse.Namespace) -> Cohort:
    """The cohort imported into ``--work`` by an earlier run with the same generator options
    (refused with other options), or built and imported there."""
    work: Path = args.work
    stored = work / "cohort.json"
    if stored.is_file():
        kept = json.loads(stored.read_text())
        if kept["options"] != build_options(args):
            raise SystemExit(
                f"{work} holds a cohort built with {kept['options']}, not "
                f"{build_options(args)}: give those options or name another folder"
            )
        print(f"reusing the cohort imported into {work / 'data'}", flush=True)
        return imported_cohort(work / "data", kept["references"], args.seed)
    if (work / "data").exists() or (work / "cohort").exists():
        raise SystemExit(f"{work} holds an unfinished build: remove it or name another folder")
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cohort = build_and_import(args, args.patients, args.seed, work)
    kept = {"options": build_options(args), "references": cohort.references}
    stored.write_text(json.dumps(kept, indent=1) + "\n")
    print(f"built and imported {args.patients} patients ({time.perf_counter() - started:.0f} s)")
    return cohort


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1400, help="the cohort subsets come from")
    parser.add_argument("--seed", type=int, default=2, help="the cohort's generator seed")
    parser.add_argument("--work", type=Path, required=True, help="keeps the imported cohort")
    parser.add_argument("--size", type=int, default=400, help="patients per subset")
    parser.add_argument("--subsets", type=int, default=30)
    parser.add_argument("--first", type=int, default=0, help="number of the first subset")
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=["clinical", "six", "radiomics"]
    )
    parser.add_argument("--matrix", type=int, default=128)
    parser.add_argument("--scan-length", type=float, default=200.0, help="mm")
    parser.add_argument("--signal", type=float, default=1.0)
    parser.add_argument("--workers", type=int, help="processes for images and features")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    args.epochs, args.device = None, "cpu"  # what kit11_scores reads (no deep model here)
    cohort = load_or_build(args)
    print(f"{len(cohort.table)} patients; references {cohort.references}", flush=True)
    rows: list[SubsetRow] = []
    for subset in range(args.first, args.first + args.subsets):
        started = time.perf_counter()
        found = measure_subset(args, cohort, subset)
        rows += found
        text = "  ".join(
            f"{r.model} {r.auc:.3f}"
            + "".join(f" (vs {k} p={p:.2g})" for k, p in r.delong_p.items())
            for r in found
        )
        print(f"subset {subset}: {text}  ({time.perf_counter() - started:.0f} s)", flush=True)
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    print(f"\n{args.size} of {len(cohort.table)} patients (cohort seed {args.seed}):")
    print("\n".join(summary_lines(rows)))


if __name__ == "__main__":
    main()
