"""Benchmark: the imaging risk score for recurrence-free survival on synthetic cohorts, against
tumour size alone, the modified NIH 2008 scheme and the generator's C ceiling.

The honesty rule of issue 17, measured on larger cohorts than the suite affords: at
``--signal 0`` the score may not add to what size gives (ΔC against size alone ≈ 0, its 95 %
bootstrap CI covering 0 in most seeds); at ``--signal 1`` it should add, and its C may not
beat the generator's ceiling for RFS (``ceiling.json`` key ``rfs_c_with_trait``, Harrell's C
of the full true model on the same cohort) beyond sampling error: a C whose bootstrap 95 % CI
lies wholly above that ceiling is printed as a loud ``HONESTY VIOLATION`` and makes the bench
exit with status 1. The anchor is the ceiling: the score's C is printed as a ratio of
``rfs_c_with_trait`` and of ``rfs_c_clinical`` (the true model without the trait; an imaging
score adds prognosis only in the gap between the two).

Each cohort is built with :func:`gistcad.synth.build.build_cohort`, imported through the
ordinary importer into a fresh data folder, and ``gistcad train --model radiomics --target rfs``
is run (5-fold cross-validation); ``gistcad evaluate --json`` gives the out-of-fold figures.
Printed per cohort: Harrell's and Uno's C, the time-dependent AUC at 2 and 5 years, ΔC against
size and against modified NIH with their CIs, the LR tests over the scheme, and the ratios of
the score's C to both ceilings; then the mean over seeds per signal.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/imaging_risk_score.py \\
        --patients 400 --seeds 1 2 3 --signals 0 1
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gistcad.synth.build import BuildOptions, build_cohort

POOLED = "All centers"
#: the generator's RFS C ceilings in ceiling.json, each {"pooled": C, "<center>": C, ...}
CEILING_KEYS = ("rfs_c_clinical", "rfs_c_with_trait")


def gistcad(args: list[str], env: dict[str, str]) -> str:
    """The command's output; a command that fails stops the bench with what it said."""
    command = [sys.executable, "-m", "gistcad.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"gistcad {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )
    return done.stdout


def ceilings_of(report: dict[str, Any]) -> dict[str, float]:
    """The pooled RFS C ceilings of a ``ceiling.json`` (those it reports; none before the
    generator had the planted trait)."""
    found = {}
    for key in CEILING_KEYS:
        value = report.get(key)
        if isinstance(value, dict) and value.get("pooled") is not None:
            found[key] = float(value["pooled"])
    return found


@dataclass(frozen=True)
class CeilingCheck:
    """The score's C against the generator's ceilings: ratios, and the honesty verdict."""

    ratio_with_trait: float | None
    ratio_clinical: float | None
    above_ceiling: bool

    def text(self) -> str:
        ratios = "  ".join(
            f"C/{name} {'n/a' if r is None else f'{r:.3f}'}"
            for name, r in (
                ("rfs_c_with_trait", self.ratio_with_trait),
                ("rfs_c_clinical", self.ratio_clinical),
            )
        )
        if self.above_ceiling:
            ratios += (
                "\n!!! HONESTY VIOLATION: the score's C is above the generator's ceiling "
                "rfs_c_with_trait beyond sampling error (its 95 % CI lies wholly above it): "
                "a leak of the outcome or of the truth into the features; find it !!!"
            )
        return ratios


def check_ceiling(c: float, ci_lower: float | None, ceilings: dict[str, float]) -> CeilingCheck:
    """Ratios of the score's C to the ceilings; ``above_ceiling`` when even the lower end of
    its bootstrap 95 % CI exceeds ``rfs_c_with_trait`` (no honest score can, beyond chance)."""
    trait, clinical = ceilings.get("rfs_c_with_trait"), ceilings.get("rfs_c_clinical")
    above = trait is not None and ci_lower is not None and ci_lower > trait
    return CeilingCheck(
        None if trait is None else c / trait, None if clinical is None else c / clinical, above
    )


def run(
    args: argparse.Namespace, signal: float, patients: int, seed: int, work: Path
) -> dict[str, float]:
    """One cohort: the score's pooled figures, printed and returned."""
    tag = f"signal {signal:g}  n={patients}  seed {seed}"
    cohort, data = work / "cohort", work / "data"
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
    env.pop("GISTCAD_DB_URL", None)
    start = time.perf_counter()
    build_cohort(
        BuildOptions(
            out=cohort,
            patients=patients,
            seed=seed,
            signal=signal,
            matrix=args.matrix,
            scan_length_mm=args.scan_length,
            follow_up=False,
        )
    )
    gistcad(["db", "upgrade"], env)
    gistcad(["import", "demo", str(cohort), "--json"], env)
    ceilings = ceilings_of(json.loads((cohort / "ceiling.json").read_text()))
    shutil.rmtree(cohort / "centers")
    print(f"{tag}  built and imported ({time.perf_counter() - start:.0f} s)", flush=True)
    start = time.perf_counter()
    gistcad(["train", "--model", "radiomics", "--target", "rfs", "--name", "score"], env)
    seconds = time.perf_counter() - start
    survival = json.loads(gistcad(["evaluate", "--model", "score", "--json"], env))["survival"]
    pooled = next(r for r in survival["metrics"] if r["center"] == POOLED)
    deltas = {r["reference"]: r for r in survival["delta_c"] if r["center"] == POOLED}
    result = {"c": pooled["harrell_c"], "uno_c": pooled["uno_c"], "size_c": pooled["size_cm_c"]}
    check = check_ceiling(pooled["harrell_c"], pooled.get("harrell_c_ci_lower"), ceilings)
    result["above_ceiling"] = float(check.above_ceiling)
    for key, ratio in (
        ("ratio_trait", check.ratio_with_trait),
        ("ratio_clinical", check.ratio_clinical),
    ):
        if ratio is not None:
            result[key] = ratio
    parts = []
    for name, row in deltas.items():
        key = "size" if "size" in name.lower() else "nih"
        result[f"delta_{key}"] = row["delta_c"]
        result[f"covers0_{key}"] = float(row["ci_lower"] <= 0 <= row["ci_upper"])
        parts.append(
            f"ΔC vs {name} {row['delta_c']:+.3f} ({row['ci_lower']:+.3f} to {row['ci_upper']:+.3f})"
        )
    lr = "; ".join(
        f"LR over {t['base']}: "
        + ("n/a" if t["statistic"] is None else f"{t['statistic']:.1f}, p {t['p']:.2g}")
        for t in survival["lr_tests"]
    )
    print(
        f"{tag}  C {pooled['harrell_c']:.3f} (Uno {pooled['uno_c']:.3f}; size alone "
        f"{pooled['size_cm_c']:.3f}; modified NIH {pooled['modified_nih_c'] or float('nan'):.3f})"
        f"  AUC 2 y {pooled['auc_24m'] or float('nan'):.3f}, 5 y "
        f"{pooled['auc_60m'] or float('nan'):.3f}  {'; '.join(parts)}  {lr}  ceilings "
        + ", ".join(f"{k} {v:.3f}" for k, v in ceilings.items())
        + f"  {check.text()}  ({seconds:.0f} s)",
        flush=True,
    )
    shutil.rmtree(data)
    shutil.rmtree(cohort)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, nargs="+", default=[400])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--signals", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--matrix", type=int, default=64, help="in-plane pixels (demo: 256)")
    parser.add_argument("--scan-length", type=float, default=40.0, help="mm (demo: 200)")
    args = parser.parse_args()
    results: dict[tuple[float, int], list[dict[str, float]]] = defaultdict(list)
    for signal in args.signals:
        for patients in args.patients:
            for seed in args.seeds:
                with tempfile.TemporaryDirectory(prefix="gistcad-score-") as folder:
                    work = Path(folder)
                    results[signal, patients].append(run(args, signal, patients, seed, work))
    print("\nsummary (mean over seeds)")
    for (signal, patients), runs in sorted(results.items()):
        mean = {k: float(np.mean([r[k] for r in runs if k in r])) for k in runs[0]}
        print(
            f"signal {signal:g}  n={patients}  {len(runs)} seeds  C {mean['c']:.3f}  size alone "
            f"{mean['size_c']:.3f}  ΔC vs size {mean.get('delta_size', float('nan')):+.3f} "
            f"(CI covers 0 in {sum(r.get('covers0_size', 0) for r in runs):.0f} of {len(runs)})"
            f"  ΔC vs modified NIH {mean.get('delta_nih', float('nan')):+.3f}"
            f"  C/rfs_c_with_trait {mean.get('ratio_trait', float('nan')):.3f}"
            f"  C/rfs_c_clinical {mean.get('ratio_clinical', float('nan')):.3f}"
        )
    violations = sum(int(r["above_ceiling"]) for runs in results.values() for r in runs)
    if violations:
        print(f"\n!!! {violations} cohort(s) above the RFS ceiling beyond sampling error !!!")
        sys.exit(1)


if __name__ == "__main__":
    main()
