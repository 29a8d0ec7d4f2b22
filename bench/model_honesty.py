"""Benchmark: the models on synthetic cohorts of several sizes and seeds, against chance, the
clinical baseline and the ceiling.

The honesty rules of the models issue, measured on more and larger cohorts than the test suite
can afford (``tests/modelling/test_image_models.py`` runs two of 48; the deep model against the
clinical baseline, which needs a few hundred patients, is measured here only):
- at ``--signal 0`` (the genotype drawn independently of everything the image shows) every
  model's out-of-fold KIT exon 11 AUC must stay within chance (0.5 ± 3 Hanley-McNeil SE);
- at ``--signal 1`` no model may beat the generator's ceiling (beyond 3 SE), and the deep model
  should beat the clinical baseline.

Each cohort is built with :func:`gistcad.synth.build.build_cohort` (by default as the tests
render it: a 96-pixel matrix over 40 mm of scan; the crops are 32³ whatever the matrix),
imported through the ordinary importers into a fresh data folder, and every model is trained
on KIT exon 11 vs rest with 5-fold cross-validation (the same folds for all, so they are
compared on the same patients) and evaluated with the oracle. Anchors printed per model:
chance (0.5) and the ceiling on the same patients, with the ratio (AUC − 0.5) / (ceiling − 0.5);
then DeLong's test of the deep model against the clinical baseline. The last lines summarise
each signal and size over the seeds: mean AUC per model, and in how many seeds the deep model
beat the clinical baseline.

``deep-ensemble`` is the deep model trained with ``--ensemble`` networks (default 3) and
``--tta`` test-time views (default 4) on the same folds; with ``deep`` beside it, DeLong's
test compares the two on the same patients.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/model_honesty.py \\
        --patients 200 400 --seeds 1 2 3 --signals 1 --models clinical deep
    .venv/bin/python bench/model_honesty.py --patients 200 --matrix 256 --scan-length 200
    OMP_NUM_THREADS=1 .venv/bin/python bench/model_honesty.py --patients 200 --seeds 1 \
        --signals 1 --models clinical deep deep-ensemble --ensemble 3 --tta 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from gistcad.synth.build import BuildOptions, build_cohort

MODELS = {
    "clinical": ["--model", "clinical", "--target", "kit11"],
    "radiomics": ["--model", "radiomics", "--target", "kit11"],
    "deep": ["--model", "dl", "--target", "kit11"],
    "deep-ensemble": ["--model", "dl", "--target", "kit11"],
}


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """SE of an AUC (Hanley & McNeil, Radiology 1982;143:29)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float(np.sqrt(var / (n_pos * n_neg)))


def gistcad(args: list[str], env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "gistcad.cli", *args]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def run(
    args: argparse.Namespace, signal: float, patients: int, seed: int, work: Path
) -> dict[str, float]:
    """One cohort: every model's pooled AUC (and the ceiling), printed and returned."""
    tag = f"signal {signal:g}  n={patients}  seed {seed}"
    cohort, data = work / "cohort", work / "data"
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    start = time.perf_counter()
    build_cohort(
        BuildOptions(
            out=cohort,
            patients=patients,
            seed=seed,
            signal=signal,
            matrix=args.matrix,
            scan_length_mm=args.scan_length,
        )
    )
    gistcad(["db", "upgrade"], env)
    gistcad(["import", "demo", str(cohort), "--json"], env)
    shutil.rmtree(cohort / "centers")  # imported: only oracle.csv is read from here on
    print(f"{tag}  built and imported ({time.perf_counter() - start:.0f} s)", flush=True)
    aucs: dict[str, float] = {}
    for name in args.models:
        extra = ["--epochs", str(args.epochs)] if name.startswith("deep") and args.epochs else []
        if name == "deep-ensemble":
            extra += ["--ensemble", str(args.ensemble), "--tta", str(args.tta)]
        start = time.perf_counter()
        gistcad(["train", *MODELS[name], *extra, "--name", name], env)
        seconds = time.perf_counter() - start
        report = json.loads(
            gistcad(
                ["evaluate", "--model", name, "--oracle", str(cohort / "oracle.csv"), "--json"], env
            )
        )
        pooled = next(r for r in report["tasks"]["kit11_vs_rest"] if r["center"] == "All centers")
        n_pos, n = pooled["positives"], pooled["n"]
        auc, ceiling = pooled["auc"], pooled["ceiling_auc"]
        aucs[name], aucs["ceiling"] = auc, ceiling
        se = hanley_mcneil_se(max(auc, 0.5), n_pos, n - n_pos)
        ratio = (auc - 0.5) / (ceiling - 0.5) if ceiling > 0.5 else float("nan")
        verdict = (
            ("within chance" if abs(auc - 0.5) < 3 * se else "BEYOND CHANCE")
            if signal == 0
            else ("at or below ceiling" if auc <= ceiling + 3 * se else "ABOVE CEILING")
        )
        print(
            f"{tag}  {name:9s} KIT11 AUC {auc:.3f} "
            f"(CI {pooled['auc_ci_lower']:.3f}–{pooled['auc_ci_upper']:.3f})  chance 0.5  "
            f"ceiling {ceiling:.3f}  ratio {ratio:.2f}  3·SE {3 * se:.3f}  {verdict}  "
            f"({seconds:.0f} s)",
            flush=True,
        )
    for first, second in (("deep", "clinical"), ("deep-ensemble", "deep")):
        if {first, second} <= set(args.models):
            compared = json.loads(
                gistcad(["evaluate", "--model", first, "--compare", second, "--json"], env)
            )["comparison"]
            test = compared["tasks"]["kit11_vs_rest"]
            aucs[f"p_{first}_vs_{second}"] = test["p_value"]
            print(
                f"{tag}  {first} vs {second} on {compared['n']} shared patients: KIT11 AUC "
                f"{test['auc_a']:.3f} vs {test['auc_b']:.3f}, DeLong p = {test['p_value']:.3g}",
                flush=True,
            )
    shutil.rmtree(data)  # 800 patients at the demo's matrix take 15 GB
    shutil.rmtree(cohort)
    return aucs


def summarise(results: dict[tuple[float, int], list[dict[str, float]]], models: list[str]) -> None:
    print("\nsummary (mean over seeds)")
    for (signal, patients), runs in sorted(results.items()):
        means = "  ".join(
            f"{name} {np.mean([r[name] for r in runs]):.3f}" for name in [*models, "ceiling"]
        )
        line = f"signal {signal:g}  n={patients}  seeds {len(runs)}  {means}"
        if {"deep", "clinical"} <= set(models):
            wins = sum(r["deep"] > r["clinical"] for r in runs)
            line += f"  deep > clinical in {wins}/{len(runs)}"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--signals", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--matrix", type=int, default=96, help="in-plane pixels (demo: 256)")
    parser.add_argument("--scan-length", type=float, default=40.0, help="mm (demo: 200)")
    parser.add_argument("--epochs", type=int, help="deep models (default: DlSettings')")
    parser.add_argument("--ensemble", type=int, default=3, help="deep-ensemble: networks")
    parser.add_argument("--tta", type=int, default=4, help="deep-ensemble: test-time views")
    args = parser.parse_args()
    results: dict[tuple[float, int], list[dict[str, float]]] = defaultdict(list)
    for signal in args.signals:
        for patients in args.patients:
            for seed in args.seeds:
                with tempfile.TemporaryDirectory(prefix="gistcad-honesty-") as folder:
                    aucs = run(args, signal, patients, seed, Path(folder))
                results[signal, patients].append(aucs)
    summarise(results, args.models)


if __name__ == "__main__":
    main()
