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

With ``--ct PATIENTS`` it runs discovery on the generator's CT instead
(:func:`gistcad.biomarkers.simulation.rendered_cohort`): for each of ``--ct-seeds`` and
``--signals``, the cohort ``gistcad demo build`` writes with those options (6 centers,
``--matrix``) is drawn, every baseline CT rendered as the build renders it and the discovery's
candidate features (whole tumour and solid part) computed on it; then discovery with the
default adjustment (risk, afip, genotype), FDR 0.1, no bootstrap (it only gives the selection
frequency). Skipped against ``demo build`` + ``import demo`` + ``biomarkers discover``: the DICOM
and mask files, their import and the database (identical CT arrays and clinical values). Per
cohort it prints the events, what was discovered and confirmed, the first feature by q and
its Spearman correlation with the planted ``prognostic_trait_z`` (a feature with
|rho| >= 0.3 is said to express the trait), and the best-correlated feature's rank; then per
signal how often a trait-expressing feature ranked first and was confirmed (signal 1), and
runs with any discovery, all false (signal 0).

Usage::

    .venv/bin/python bench/biomarker_discovery.py
    .venv/bin/python bench/biomarker_discovery.py --seeds 10 --bootstrap 200
    .venv/bin/python bench/biomarker_discovery.py --data-dir ~/gistcad-data
    PYTHONPATH=. .venv/bin/python bench/biomarker_discovery.py --size-adjustment 600 --seeds 20
    PYTHONPATH=. .venv/bin/python bench/biomarker_discovery.py --ct 400 --ct-seeds 1 2
    PYTHONPATH=. .venv/bin/python bench/biomarker_discovery.py --ct 600 --keep /tmp/ct600
    PYTHONPATH=. .venv/bin/python bench/biomarker_discovery.py --kept /tmp/ct600 --winsorise 0

``--keep DIR`` writes each rendered cohort (features, survival, adjustment, center, the planted
trait) and its discovery table as CSV; ``--kept DIR`` runs discovery again on those files,
without rendering (seconds a cohort), e.g. with another ``--winsorise``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistcad.analysis.biomarker_discovery import DiscoverySettings, discover
from gistcad.analysis.cox import fit_cox
from gistcad.analysis.cox_screen import cox_screen

PATIENTS, FEATURES = 400, 200
#: |Spearman rho| with prognostic_trait_z from which a CT feature is said to express the trait
EXPRESSES = 0.3


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


@dataclass(frozen=True)
class CtRun:
    """What one discovery on a CT cohort found, judged against the planted trait."""

    seed: int
    signal: float
    patients: int
    events: int
    discovered: int
    confirmed: int
    discovered_expressing: int
    confirmed_expressing: int
    first: str
    first_rho: float
    first_q: float
    first_confirmed: bool
    best: str
    best_rho: float
    best_rank: int

    @property
    def trait_found(self) -> bool:
        """The first feature by q expresses the trait and is confirmed on held-out centers."""
        return self.first_confirmed and abs(self.first_rho) >= EXPRESSES


def spearman(features: pd.DataFrame, truth: Sequence[float]) -> pd.Series:
    """Spearman's rho of every column of ``features`` with ``truth`` (average ranks for ties;
    a constant column gets NaN)."""
    ranks = features.rank()
    target = pd.Series(np.asarray(truth, dtype=float), index=features.index).rank()
    ranks_c = ranks - ranks.mean()
    target_c = target - target.mean()
    denominator = np.sqrt((ranks_c**2).sum() * (target_c**2).sum())
    rho = ranks_c.mul(target_c, axis=0).sum() / denominator.where(denominator > 0)
    return rho.astype(float)


def judge_ct_run(
    table: pd.DataFrame,
    features: pd.DataFrame,
    trait_z: Sequence[float],
    *,
    seed: int,
    signal: float,
    events: int,
) -> CtRun:
    """Summarise a discovery ``table`` (rows by q: feature, q, discovered, confirmed) on
    ``features`` against the planted ``trait_z``."""
    rho = spearman(features, trait_z)
    by_q = table.reset_index(drop=True)
    expressing = by_q["feature"].map(rho).abs() >= EXPRESSES
    first = by_q.iloc[0]
    best = str(rho.abs().idxmax())
    order = list(by_q["feature"])
    return CtRun(
        seed=seed,
        signal=signal,
        patients=len(features),
        events=events,
        discovered=int(by_q["discovered"].sum()),
        confirmed=int(by_q["confirmed"].sum()),
        discovered_expressing=int((by_q["discovered"] & expressing).sum()),
        confirmed_expressing=int((by_q["confirmed"] & expressing).sum()),
        first=str(first["feature"]),
        first_rho=float(rho[first["feature"]]),
        first_q=float(first["q"]),
        first_confirmed=bool(first["confirmed"]),
        best=best,
        best_rho=float(rho[best]),
        best_rank=order.index(best) + 1 if best in order else 0,
    )


def format_ct_run(run: CtRun) -> str:
    """One line per cohort."""
    found = (
        f"discovered {run.discovered} ({run.discovered_expressing} expressing the trait), "
        f"confirmed {run.confirmed} ({run.confirmed_expressing})"
    )
    if run.signal == 0:
        found = f"false discoveries {run.discovered}, confirmed {run.confirmed}"
    best_rank = f"rank {run.best_rank}" if run.best_rank else "not tested"
    return (
        f"CT cohort {run.patients} patients, seed {run.seed}, signal {run.signal:g}: "
        f"{run.events} events; {found}; first {run.first} (q {run.first_q:.2g}, rho "
        f"{run.first_rho:+.2f}, {'confirmed' if run.first_confirmed else 'not confirmed'}); "
        f"best trait feature {run.best} (rho {run.best_rho:+.2f}, {best_rank})"
    )


def format_ct_summary(runs: Sequence[CtRun]) -> list[str]:
    """Per signal: how often the trait was found (signal > 0) or anything discovered (0)."""
    lines = []
    for signal in sorted({r.signal for r in runs}, reverse=True):
        these = [r for r in runs if r.signal == signal]
        if signal > 0:
            lines.append(
                f"signal {signal:g}: a trait-expressing feature first and confirmed in "
                f"{sum(r.trait_found for r in these)}/{len(these)} seeds; any trait-expressing "
                f"feature confirmed in {sum(r.confirmed_expressing > 0 for r in these)}"
                f"/{len(these)}"
            )
        else:
            lines.append(
                f"signal 0: runs with any (false) discovery {sum(r.discovered > 0 for r in these)}"
                f"/{len(these)}, with a confirmed one {sum(r.confirmed > 0 for r in these)}"
                f"/{len(these)}"
            )
    return lines


def keep_cohort(folder: Path, seed: int, signal: float, rendered: Any, table: pd.DataFrame) -> None:
    """Write a rendered cohort (features, survival, adjustment, center, the planted trait)
    and its discovery table to ``folder`` as CSV, to look into a finding afterwards."""
    c = rendered.cohort
    stem = folder / f"ct{len(c.features)}_seed{seed}_signal{signal:g}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = c.features.add_prefix("feature:").assign(
        rfs_months=c.durations,
        rfs_event=c.events,
        center=c.centers,
        log_size=c.log_size,
        prognostic_trait_z=rendered.trait_z,
    )
    pd.concat([rows, c.covariates.add_prefix("adjust:")], axis=1).to_csv(
        f"{stem}_cohort.csv", index=False
    )
    table.to_csv(f"{stem}_discovery.csv", index=False)


def read_kept(path: Path) -> tuple[Any, int, float]:
    """A cohort :func:`keep_cohort` wrote (``*_cohort.csv``): the rendered cohort, its seed and
    its signal (from the file's name)."""
    from gistcad.biomarkers.simulation import PlantedCohort, RenderedCohort

    rows = pd.read_csv(path)
    stem = path.name.removesuffix("_cohort.csv").split("_")
    seed = int(stem[1].removeprefix("seed"))
    signal = float(stem[2].removeprefix("signal"))
    cohort = PlantedCohort(
        features=rows.filter(like="feature:").rename(columns=lambda c: c.split(":", 1)[1]),
        durations=rows["rfs_months"].to_numpy(dtype=float),
        events=rows["rfs_event"].to_numpy(dtype=float),
        covariates=rows.filter(like="adjust:").rename(columns=lambda c: c.split(":", 1)[1]),
        centers=rows["center"].astype(str).to_numpy(dtype=object),
        log_size=rows["log_size"].to_numpy(dtype=float),
    )
    return RenderedCohort(cohort, rows["prognostic_trait_z"].to_numpy(dtype=float)), seed, signal


def judge_rendered(
    rendered: Any, seed: int, signal: float, winsorise: float = DiscoverySettings().winsorise
) -> tuple[Any, CtRun]:
    """Discovery (no bootstrap) on a rendered cohort, and its judgement against the trait."""
    c = rendered.cohort
    found = discover(
        c.features,
        c.durations,
        c.events,
        c.covariates,
        c.centers,
        c.log_size,
        DiscoverySettings(bootstrap=0, winsorise=winsorise),
    )
    run = judge_ct_run(
        found.table,
        c.features,
        rendered.trait_z,
        seed=seed,
        signal=signal,
        events=int(c.events.sum()),
    )
    return found, run


def kept_cohorts(folder: Path, winsorise: float) -> None:
    """Discovery again on every cohort :func:`keep_cohort` wrote to ``folder`` (no CT is
    rendered: seconds a cohort), with the features winsorised at ``winsorise``."""
    runs = []
    for path in sorted(folder.glob("*_cohort.csv")):
        rendered, seed, signal = read_kept(path)
        _, run = judge_rendered(rendered, seed, signal, winsorise)
        runs.append(run)
        print(format_ct_run(run), flush=True)
    for line in format_ct_summary(runs):
        print(line)


def ct_cohorts(
    patients: int,
    seeds: Sequence[int],
    signals: Sequence[float],
    matrix: int,
    workers: int | None,
    keep: Path | None = None,
) -> None:
    """Discovery on the CT of generated cohorts (see the module docstring); ``keep``: a
    folder where each cohort and its discovery table are written (:func:`keep_cohort`)."""
    from gistcad.biomarkers.simulation import rendered_cohort

    runs = []
    for seed in seeds:
        for signal in signals:
            start = time.perf_counter()
            rendered = rendered_cohort(
                patients, signal=signal, seed=seed, matrix=matrix, workers=workers
            )
            features_s = time.perf_counter() - start
            start = time.perf_counter()
            found, run = judge_rendered(rendered, seed, signal)
            runs.append(run)
            if keep is not None:
                keep_cohort(keep, seed, signal, rendered, found.table)
            print(format_ct_run(run))
            print(
                f"  CT and features {features_s:.0f} s, discovery "
                f"{time.perf_counter() - start:.1f} s",
                flush=True,
            )
    for line in format_ct_summary(runs):
        print(line)


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
    parser.add_argument(
        "--ct",
        type=int,
        metavar="PATIENTS",
        help="only discovery on the rendered CT of generated cohorts of this size",
    )
    parser.add_argument("--ct-seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--signals", type=float, nargs="+", default=[1.0, 0.0])
    parser.add_argument("--matrix", type=int, default=256, help="in-plane pixels of the CT")
    parser.add_argument("--workers", type=int, help="processes of a local cluster")
    parser.add_argument(
        "--keep", type=Path, help="with --ct: write each cohort and its discovery table here"
    )
    parser.add_argument(
        "--kept", type=Path, help="only discovery again on the cohorts --keep wrote to this folder"
    )
    parser.add_argument(
        "--winsorise",
        type=float,
        default=DiscoverySettings().winsorise,
        help="with --kept: the share of each tail winsorised (0: none)",
    )
    args = parser.parse_args()
    if args.kept:
        kept_cohorts(args.kept, args.winsorise)
        return
    if args.ct:
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        ct_cohorts(args.ct, args.ct_seeds, args.signals, args.matrix, args.workers, args.keep)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        return
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
