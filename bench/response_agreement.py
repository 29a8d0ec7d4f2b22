"""Benchmark: the automatic RECIST 1.1 and Choi categories against the generator's truth.

Target (issue "Follow the patient in time", done when): on the demo cohort at signal 1 the
automatic categories agree with the generator's truth for >= 95 % of assessments; at signal 0
response rates do not differ by genotype.

What it does, through the product's own functions: builds a synthetic cohort with follow-up
(``gistcad.synth.build``) in the data folder's demo place, imports it like a center's data
(:func:`gistcad.demo_cohort.import_demo_cohort`), assesses every patient
(:func:`gistcad.followup.assess_cohort`: measure the masks, choose the targets, apply the rules),
links the pseudonyms to ``follow_up_categories.csv`` with the data folder's key
(:mod:`gistcad.followup.truth_link`) and prints:

- the agreement per criteria (RECIST 1.1, Choi) with counts, against the 95 % anchor;
- the confusion table (truth in rows, automatic in columns) and the disagreements' reasons;
- the response rates by true genotype class (``oracle.csv``), truth and automatic: Choi PR at
  the first follow-up CT (2 months) and RECIST PR / PD at the last (12 months).

Usage::

    .venv/bin/python bench/response_agreement.py                      # 200 patients, signal 1
    .venv/bin/python bench/response_agreement.py --patients 100 --signal 0
    .venv/bin/python bench/response_agreement.py --data /tmp/agree    # keep and reuse a folder
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from gistcad.demo_cohort import DEMO_CENTERS, import_demo_cohort
from gistcad.followup import assess_cohort
from gistcad.followup.truth_link import (
    agreement,
    automatic_categories,
    compare_with_truth,
    load_truth_categories,
)
from gistcad.ingest.pseudonym import load_or_create_key
from gistcad.layout import DataLayout
from gistcad.store import AccessScope, migrations, session_scope
from gistcad.store.engine import make_engine
from gistcad.store.models import Patient
from gistcad.synth.build import FOLLOW_UP_CATEGORIES, BuildOptions, build_cohort

TARGET = 0.95


def prepare(data: Path, args: argparse.Namespace) -> tuple[DataLayout, float, float]:
    """Build (unless built) and import (unless imported) the cohort; seconds of each."""
    layout = DataLayout(data)
    build_s = import_s = 0.0
    if not (layout.demo_cohort / "manifest.json").exists():
        start = time.perf_counter()
        build_cohort(
            BuildOptions(
                out=layout.demo_cohort,
                patients=args.patients,
                centers=DEMO_CENTERS,
                seed=args.seed,
                signal=args.signal,
                matrix=args.matrix,
                workers=args.workers,
            )
        )
        build_s = time.perf_counter() - start
    engine = make_engine(f"sqlite:///{data / 'gistcad.db'}")
    migrations.upgrade(engine)
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Patient)) or 0
    if not stored:
        start = time.perf_counter()
        reports = import_demo_cohort(engine, data, AccessScope.everything(), layout.demo_cohort)
        problems = [str(p) for r in reports for p in r.problems]
        if not all(r.ok for r in reports):
            raise SystemExit("import refused:\n" + "\n".join(problems))
        import_s = time.perf_counter() - start
    engine.dispose()
    return layout, build_s, import_s


def rates(compared: pd.DataFrame, oracle: pd.DataFrame) -> pd.DataFrame:
    """Response rates by true genotype class, truth and automatic."""
    genotype = oracle.set_index(["center", "hospital_id"])["genotype_class"]
    frame = compared.assign(
        genotype_class=[
            genotype[(c, h)]
            for c, h in zip(compared["center"], compared["hospital_id"], strict=True)
        ]
    )
    last = frame["timepoint"].max()
    columns = {}
    for label, criteria, timepoint, category in [
        ("Choi PR 2 mo", "choi", 1, "pr"),
        ("RECIST PR 12 mo", "recist_1_1", last, "pr"),
        ("RECIST PD 12 mo", "recist_1_1", last, "pd"),
    ]:
        rows = frame[(frame["criteria"] == criteria) & (frame["timepoint"] == timepoint)]
        grouped = rows.groupby("genotype_class")
        columns[f"{label} truth"] = grouped["truth"].apply(lambda c, k=category: (c == k).mean())
        columns[f"{label} auto"] = grouped["automatic"].apply(lambda c, k=category: (c == k).mean())
    out = pd.DataFrame(columns)
    out.insert(
        0,
        "patients",
        frame[frame["timepoint"] == 1].groupby("genotype_class")["pseudonym"].nunique(),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--signal", type=float, default=1.0)
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--data", type=Path, help="data folder to use and keep (reused when already built)"
    )
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="gistcad-agreement-"))
    data.mkdir(parents=True, exist_ok=True)
    try:
        layout, build_s, import_s = prepare(data, args)
        engine = make_engine(f"sqlite:///{data / 'gistcad.db'}")
        start = time.perf_counter()
        with session_scope(engine) as session:
            run = assess_cohort(session, AccessScope.everything(), layout)
        assess_s = time.perf_counter() - start
        engine.dispose()
        truth = load_truth_categories(
            layout.demo_cohort / FOLLOW_UP_CATEGORIES, load_or_create_key(data)
        )
        compared = compare_with_truth(automatic_categories(run), truth)
        oracle = pd.read_csv(layout.demo_oracle, dtype={"hospital_id": str})
        manifest = json.loads((layout.demo_cohort / "manifest.json").read_text())
        print(f"cohort in {layout.demo_cohort}")
        options = {k: v for k, v in manifest["options"].items() if k != "follow_up_response"}
        print(f"options {json.dumps(options)}")
        print(
            f"build {build_s:.0f} s, import {import_s:.0f} s, assess {assess_s:.0f} s; "
            f"{truth['pseudonym'].nunique()} treated patients, {len(run.runs)} assessed, "
            f"{len(run.problems)} not assessable"
        )
        for problem in run.problems:
            print(f"  not assessed: {problem}")
        print("\nagreement with the generator's truth (anchor: >= 95 %)")
        for criteria, row in agreement(compared).iterrows():
            verdict = "meets" if row["fraction"] >= TARGET else "BELOW"
            print(
                f"  {criteria:<11} {int(row['agreeing'])}/{int(row['assessments'])} "
                f"= {100 * row['fraction']:.1f} %  ({verdict} the target; ratio "
                f"{row['fraction'] / TARGET:.3f})"
            )
        for criteria, rows in compared.groupby("criteria"):
            print(f"\nconfusion, {criteria} (rows: truth, columns: automatic)")
            print(pd.crosstab(rows["truth"], rows["automatic"]).to_string())
        wrong = compared[~compared["agree"]]
        if len(wrong):
            truth_reasons = pd.read_csv(
                layout.demo_cohort / FOLLOW_UP_CATEGORIES, dtype={"hospital_id": str}
            )
            print("\ndisagreements (automatic reason | truth reason)")
            for r in wrong.itertuples():
                t = truth_reasons[
                    (truth_reasons["hospital_id"] == r.hospital_id)
                    & (truth_reasons["center"] == r.center)
                    & (truth_reasons["timepoint"] == r.timepoint)
                ].iloc[0]
                column = "recist_reason" if r.criteria == "recist_1_1" else "choi_reason"
                print(
                    f"  {r.pseudonym} t{r.timepoint} {r.criteria}: truth {r.truth}, auto "
                    f"{r.automatic}: {r.reason} | {t[column]}"
                )
        print(f"\nresponse rates by true genotype class at signal {args.signal:g}")
        with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
            print(rates(compared, oracle).to_string())
    finally:
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
