"""Benchmark: every model on demo-sized synthetic cohorts, against chance and the ceiling.

The honesty rules of the models issue, measured on cohorts too large for the test suite:
- at ``--signal 0`` (the genotype drawn independently of everything the image shows) every
  model's out-of-fold KIT exon 11 AUC must stay within chance (0.5 ± 3 Hanley-McNeil SE);
- at ``--signal 1`` no model may beat the generator's ceiling (beyond 3 SE), and the deep model
  should beat the clinical baseline.

For each signal a cohort is built with ``gistcad demo build``, imported through the ordinary
importers into a fresh data folder, and the clinical, radiomics and deep models are trained on
KIT exon 11 vs rest (k-fold by default for all three, so that they are compared on the same
patients; ``--deep-cv holdout`` is faster but scores only a quarter of them) and evaluated with
the oracle. Anchors printed per model: chance (0.5) and the ceiling on the same patients, with
the ratio (AUC − 0.5) / (ceiling − 0.5); then DeLong's test of the deep model against the
clinical baseline on their shared patients.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/model_honesty.py --patients 200 [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = (
    ("clinical", ["--model", "clinical", "--target", "kit11", "--cv", "kfold"]),
    ("radiomics", ["--model", "radiomics", "--target", "kit11", "--cv", "kfold"]),
    ("deep", ["--model", "dl", "--target", "kit11"]),  # + --cv from --deep-cv
)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """SE of an AUC (Hanley & McNeil, Radiology 1982;143:29)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float(np.sqrt(var / (n_pos * n_neg)))


def gistcad(args: list[str], env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "gistcad.cli", *args]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def run(signal: float, patients: int, epochs: int | None, deep_cv: str, work: Path) -> None:
    cohort, data = work / f"cohort-{signal}", work / f"data-{signal}"
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    gistcad(
        [
            "demo",
            "build",
            "--out",
            str(cohort),
            "--patients",
            str(patients),
            "--signal",
            str(signal),
        ],
        env,
    )
    gistcad(["db", "upgrade"], env)
    gistcad(["import", "demo", str(cohort), "--json"], env)
    for name, options in MODELS:
        extra = ["--cv", deep_cv] if name == "deep" else []
        if name == "deep" and epochs is not None:
            extra += ["--epochs", str(epochs)]
        start = time.perf_counter()
        gistcad(["train", *options, *extra, "--name", name], env)
        seconds = time.perf_counter() - start
        report = json.loads(
            gistcad(
                ["evaluate", "--model", name, "--oracle", str(cohort / "oracle.csv"), "--json"], env
            )
        )
        pooled = next(r for r in report["tasks"]["kit11_vs_rest"] if r["center"] == "All centers")
        n_pos, n = pooled["positives"], pooled["n"]
        auc, ceiling = pooled["auc"], pooled["ceiling_auc"]
        se = hanley_mcneil_se(max(auc, 0.5), n_pos, n - n_pos)
        ratio = (auc - 0.5) / (ceiling - 0.5) if ceiling > 0.5 else float("nan")
        verdict = (
            ("within chance" if abs(auc - 0.5) < 3 * se else "BEYOND CHANCE")
            if signal == 0
            else ("at or below ceiling" if auc <= ceiling + 3 * se else "ABOVE CEILING")
        )
        print(
            f"signal {signal:g}  {name:9s} n={n:4d}  KIT11 AUC {auc:.3f} "
            f"(CI {pooled['auc_ci_lower']:.3f}–{pooled['auc_ci_upper']:.3f})  chance 0.5  "
            f"ceiling {ceiling:.3f}  ratio {ratio:.2f}  3·SE {3 * se:.3f}  {verdict}  "
            f"({seconds:.0f} s)",
            flush=True,
        )
    compared = json.loads(
        gistcad(["evaluate", "--model", "deep", "--compare", "clinical", "--json"], env)
    )["comparison"]
    test = compared["tasks"]["kit11_vs_rest"]
    print(
        f"signal {signal:g}  deep vs clinical on {compared['n']} shared patients: KIT11 AUC "
        f"{test['auc_a']:.3f} vs {test['auc_b']:.3f}, DeLong p = {test['p_value']:.3g}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--epochs", type=int, help="deep model (default: DlSettings')")
    parser.add_argument("--deep-cv", choices=("kfold", "holdout"), default="kfold")
    parser.add_argument("--signals", type=float, nargs="+", default=[0.0, 1.0])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gistcad-honesty-") as folder:
        for signal in args.signals:
            run(signal, args.patients, args.epochs, args.deep_cv, Path(folder))


if __name__ == "__main__":
    main()
