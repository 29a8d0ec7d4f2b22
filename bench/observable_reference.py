"""Benchmark: the four synthetic references of build cohorts, without writing their files.

For each seed and signal, draws the clinical table ``gistcad demo build`` draws, renders and
measures each patient's baseline CT exactly as the build does (the same random streams, so the
same CT and the same measurements; nothing is written) and prints the pooled AUCs of the four
references (``gistcad.synth.oracle.reference_posteriors``): ``latent`` (the exact latent
phenotype), ``latent_with_age_sex``, ``observable`` (what the CT shows, with the calibrated
measurement error) and ``clinical_oracle`` (site, size, age and sex). The build's
``ceiling.json`` holds the same figures under ``references``::

    nice -n 10 .venv/bin/python bench/observable_reference.py --patients 400 --seeds 1 2 3 \\
        --signals 1 0 --matrix 128
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from gistcad.synth.build import BuildOptions, draw_build_cohort, render_baseline
from gistcad.synth.observation import MEASUREMENT_COLUMNS, measure_patient
from gistcad.synth.oracle import REFERENCES, reference_aucs, reference_posteriors

TASKS = ("kit11_vs_rest", "kit_mutant_vs_not", "pdgfra_vs_rest")


def references(options: BuildOptions) -> dict[str, dict[str, float]]:
    """Pooled AUC of every reference and task on the build cohort of ``options``."""
    cohort, centers = draw_build_cohort(options)
    rows = []
    for record in cohort.to_dict(orient="records"):
        center = centers[record["center"]]
        ct = render_baseline(
            record,
            center,
            seed=options.seed,
            matrix=options.matrix,
            scan_length_mm=options.scan_length_mm,
        )
        rows.append(measure_patient(ct, center, int(record["patient_index"])))
    measurements = pd.DataFrame(rows, columns=list(MEASUREMENT_COLUMNS))
    measurements["patient_index"] = measurements["patient_index"].astype(int)
    frame = reference_posteriors(cohort, signal=options.signal, measurements=measurements)
    return reference_aucs(frame.round(6))  # as written to oracle.csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--signals", type=float, nargs="+", default=[1.0])
    parser.add_argument("--matrix", type=int, default=128)
    parser.add_argument("--scan-length", type=float, default=200.0)
    args = parser.parse_args()
    print("| cohort | signal | " + " | ".join(REFERENCES) + " | (KIT exon 11 vs rest) |")
    for signal in args.signals:
        for seed in args.seeds:
            options = BuildOptions(
                out=Path("unused"),
                patients=args.patients,
                seed=seed,
                signal=signal,
                matrix=args.matrix,
                scan_length_mm=args.scan_length,
            )
            start = time.perf_counter()
            aucs = references(options)
            cells = " | ".join(f"{aucs[r]['kit11_vs_rest']:.3f}" for r in REFERENCES)
            print(f"| seed {seed} | {signal:g} | {cells} | {time.perf_counter() - start:.0f} s |")
            for task in TASKS[1:]:
                line = ", ".join(f"{r} {aucs[r][task]:.3f}" for r in REFERENCES)
                print(f"    {task}: {line}", flush=True)


if __name__ == "__main__":
    main()
