"""Benchmark: biomarker discovery's statistics at 200 features × 400 patients, and its honesty.

Target (issue 17): the per-feature adjusted Cox screen of 200 features × 400 patients in
seconds. Anchor in the same run: the validated single-model fit
(:func:`gistcad.analysis.cox.fit_cox`) called once per feature, the loop the batched screen
replaces; the ratio is anchor / screen. Then the whole discovery (BH q, bootstrap selection
with ``--bootstrap`` resamples, per-center models, leave-one-center-out confirmation), and, over
``--seeds`` simulated cohorts of the same size, with and without a planted feature: how often
anything is discovered without signal (target about the FDR), and where the planted feature
ranks with signal and whether it is confirmed on held-out centers.

The cohorts are tabular simulations (3 centers; hazard from log size, log mitoses and, with
signal, a latent trait at HR 1.5 per SD; ``planted`` = trait + noise; 198 noise features and one
function of size). With ``--data-dir`` it also runs ``gistcad biomarkers discover``'s function
on the imported cohort of that data folder and prints its top features.

Usage::

    .venv/bin/python bench/biomarker_discovery.py
    .venv/bin/python bench/biomarker_discovery.py --seeds 10 --bootstrap 200
    .venv/bin/python bench/biomarker_discovery.py --data-dir ~/gistcad-data
    PYTHONPATH=. .venv/bin/python bench/biomarker_discovery.py --size-adjustment 600 --seeds 20
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gistcad.analysis.biomarker_discovery import DiscoverySettings, discover
from gistcad.analysis.cox import fit_cox
from gistcad.analysis.cox_screen import cox_screen

PATIENTS, FEATURES = 400, 200


def cohort(seed: int, hazard_ratio: float) -> dict[str, object]:
    """A tabular cohort: features (planted, size_echo, noise), survival, adjustment, centers."""
    rng = np.random.default_rng(seed)
    n = PATIENTS
    log_size = np.log(np.clip(rng.lognormal(np.log(5.0), 0.6, n), 0.5, 40.0))
    log_mitoses = np.log1p(rng.poisson(np.exp(0.4 * log_size)))
    trait = rng.normal(size=n)
    linear = 0.8 * log_size + 0.3 * log_mitoses + np.log(hazard_ratio) * trait
    event_time = rng.exponential(60.0 * np.exp(-(linear - linear.mean())))
    censor = rng.uniform(24.0, 120.0, n)
    columns = {
        "planted": trait + rng.normal(scale=0.3, size=n),
        "size_echo": 2.0 * log_size + rng.normal(scale=0.1, size=n),
    }
    for j in range(FEATURES - 2):
        columns[f"noise_{j:03d}"] = rng.normal(size=n)
    return {
        "features": pd.DataFrame(columns),
        "durations": np.round(np.minimum(event_time, censor), 1),
        "events": (event_time <= censor).astype(float),
        "covariates": pd.DataFrame({"log_size": log_size, "log_mitoses": log_mitoses}),
        "centers": np.array([f"C{c}" for c in rng.integers(0, 3, n)], dtype=object),
        "log_size": log_size,
    }


def timings(bootstrap: int) -> None:
    data = cohort(0, 1.5)
    x = data["features"].to_numpy()  # type: ignore[attr-defined]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    c = data["covariates"].to_numpy()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for j in range(FEATURES):
        fit_cox(np.column_stack([c, x[:, j]]), data["durations"], data["events"])
    anchor = time.perf_counter() - start
    start = time.perf_counter()
    cox_screen(x, data["durations"], data["events"], c)
    screen = time.perf_counter() - start
    print(f"adjusted Cox screen, {FEATURES} features x {PATIENTS} patients: {screen:.3f} s")
    print(
        f"anchor, fit_cox once per feature: {anchor:.3f} s; "
        f"ratio anchor / screen {anchor / screen:.1f}"
    )
    start = time.perf_counter()
    discover(**data, settings=DiscoverySettings(bootstrap=bootstrap))  # type: ignore[arg-type]
    print(
        f"whole discovery (bootstrap {bootstrap}, 3 centers, LOCO): "
        f"{time.perf_counter() - start:.1f} s"
    )


def honesty(seeds: int) -> None:
    settings = DiscoverySettings(bootstrap=0)
    null_hits = []
    ranks, confirmed = [], []
    for seed in range(seeds):
        found = discover(**cohort(1000 + seed, 1.0), settings=settings)  # type: ignore[arg-type]
        null_hits.append(len(found.discovered))
        found = discover(**cohort(2000 + seed, 1.5), settings=settings)  # type: ignore[arg-type]
        order = list(found.table["feature"])
        ranks.append(order.index("planted") + 1)
        confirmed.append(bool(found.table.set_index("feature").loc["planted", "confirmed"]))
    print(
        f"no signal, {seeds} seeds: runs with any discovery {sum(h > 0 for h in null_hits)}"
        f"/{seeds} (target about FDR 0.1 of runs); discoveries per run {null_hits}"
    )
    print(
        f"signal HR 1.5 per SD, {seeds} seeds: rank of the planted feature {ranks}; "
        f"confirmed on held-out centers in {sum(confirmed)}/{seeds}"
    )


def size_adjustment(seeds: int, patients: int) -> None:
    """Size-linked false discoveries at signal 0 on the generator's own cohort (tabular, no
    CT), adjusted linearly for size and mitoses, then with the AFIP cell; and the trait at
    signal 1. Anchor: the linear ``risk`` adjustment, the one before the AFIP cell."""
    from gistcad.biomarkers.simulation import SIZE_LINKED, generated_cohort

    settings = DiscoverySettings(bootstrap=0)
    for signal in (0.0, 1.0):
        for adjust in (("risk",), ("risk", "afip")):
            size_runs = size_found = size_confirmed = trait_first = 0
            for seed in range(seeds):
                c = generated_cohort(patients, signal=signal, seed=seed, adjust=adjust)
                found = discover(
                    c.features, c.durations, c.events, c.covariates, c.centers, c.log_size, settings
                )
                table = found.table.set_index("feature")
                linked = table.loc[list(SIZE_LINKED)]
                size_runs += bool(linked["discovered"].any())
                size_found += int(linked["discovered"].sum())
                size_confirmed += bool(linked["confirmed"].any())
                trait_first += found.table.iloc[0]["feature"] == "trait" and bool(
                    table.loc["trait", "confirmed"]
                )
            print(
                f"generator cohort {patients} patients, signal {signal:g}, adjust "
                f"{','.join(adjust)}: runs with a size-linked discovery {size_runs}/{seeds} "
                f"({size_found} in all, confirmed in {size_confirmed} runs); trait first and "
                f"confirmed {trait_first}/{seeds}"
            )


def imported(data_dir: Path, bootstrap: int) -> None:
    from gistcad.biomarkers import DiscoveryRequest, discover_biomarkers
    from gistcad.commands.biomarkers import format_report
    from gistcad.config import load_settings
    from gistcad.store import AccessScope, migrations, session_scope

    os.environ["GISTCAD_DATA_DIR"] = str(data_dir)
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    start = time.perf_counter()
    with session_scope(engine) as session:
        found = discover_biomarkers(
            session,
            AccessScope.everything(),
            settings.data_dir,
            DiscoveryRequest(bootstrap=bootstrap),
        )
    print(f"imported cohort in {data_dir}: {time.perf_counter() - start:.1f} s")
    print(format_report(found, top=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--size-adjustment",
        type=int,
        metavar="PATIENTS",
        help="only the size-linked false discoveries on the generator's cohort of this size",
    )
    args = parser.parse_args()
    if args.size_adjustment:
        size_adjustment(args.seeds, args.size_adjustment)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    timings(args.bootstrap)
    honesty(args.seeds)
    if args.data_dir:
        imported(args.data_dir, args.bootstrap)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
