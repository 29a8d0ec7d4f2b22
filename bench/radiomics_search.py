"""Benchmark: the radiomics model before and after the search, and the clinical model, on the
same folds of an imported synthetic cohort.

For each data folder (a cohort built by ``gistcad demo build`` and imported with ``gistcad
import demo``), predicts KIT exon 11 vs rest (or ``--target``) out of fold with the hash-dealt
folds (``--cv kfold``, ``--seed``) shared by every model, and prints the pooled out-of-fold AUC
(the probability of KIT exon 11, or of the target's positive class), the mean of the
per-center AUCs, and the cohort's references from its ``ceiling.json``:

- ``clinical``: the clinical baseline (site, size, age, sex);
- ``radiomics before``: the whole-mask IBSI features and the tuned logistic regression shipped
  before the search (:func:`gistcad.modelling.radiomics_model.build_radiomics_model`);
- ``radiomics``: the current model (solid part, clinical covariates, ComBat, near-duplicate
  removal, searched ensemble; for KIT exon 11 vs rest fitted on the four genotype classes and
  scored in its inner splits by KIT exon 11's AUC, as ``gistcad train`` trains it);
- ``radiomics, 4 classes`` (with ``--target kit11``): the genotype model (its inner splits
  scored by the macro AUC of the four classes), read by its probability of KIT exon 11, on the
  same folds.

Example (build, import, measure; minutes on 2 cores)::

    nice -n 10 .venv/bin/python -m gistcad.cli demo build --out /tmp/rad/c_s1 --patients 200 \\
        --seed 1 --signal 1 --matrix 128 --no-follow-up
    GISTCAD_DATA_DIR=/tmp/rad/d_s1 .venv/bin/python -m gistcad.cli db upgrade
    GISTCAD_DATA_DIR=/tmp/rad/d_s1 .venv/bin/python -m gistcad.cli import demo /tmp/rad/c_s1
    nice -n 10 .venv/bin/python bench/radiomics_search.py /tmp/rad/d_s1:/tmp/rad/c_s1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistcad.analysis.performance import roc_auc
from gistcad.modelling.crossval import out_of_fold
from gistcad.modelling.folds import Scheme, plan_folds
from gistcad.modelling.harmonisation import KvpUse
from gistcad.modelling.learners import ClinicalLearner
from gistcad.modelling.radiomics_model import (
    RadiomicsLearner,
    RadiomicsSettings,
    build_radiomics_model,
    feature_table,
)
from gistcad.modelling.radiomics_search import SearchSettings
from gistcad.modelling.targets import Target, labels_for
from gistcad.store import AccessScope, make_engine, session_scope
from gistcad.store.model_queries import modelling_table


def _before(table: pd.DataFrame, data: Path, labels: np.ndarray, n_classes: int, seed: int) -> Any:
    """The radiomics model shipped before the search, on the whole-mask features."""
    features = feature_table(table, data, RadiomicsSettings(kvp=KvpUse.IGNORE))  # no ComBat
    features = features[[c for c in features.columns if not c.startswith("solid_")]]

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = build_radiomics_model(seed).fit(features.iloc[train], labels[train])
        out = np.zeros((test.size, n_classes))
        out[:, model.best_estimator_.classes_] = model.predict_proba(features.iloc[test])
        return out

    return fit_predict


def measure(data: Path, cohort: Path, target: Target, seed: int) -> list[dict[str, Any]]:
    """Pooled and center-mean out-of-fold AUC of the three models on one data folder."""
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with session_scope(engine) as session:
        table = modelling_table(session, AccessScope.everything())
    table = table[table["mask_path"].notna()].reset_index(drop=True)
    labels = labels_for(table, target)
    n_classes = len(target.classes)
    centers = table["center"].to_numpy(dtype=object)
    plan = plan_folds(
        labels, [str(p) for p in table["pseudonym"]], centers, Scheme.KFOLD, seed=seed
    )
    searched = RadiomicsSettings(solid_part=True)
    new = RadiomicsLearner(
        n_classes=n_classes,
        data_dir=data,
        seed=seed,
        settings=searched,
        search_settings=SearchSettings(),
        kit11=target is Target.KIT11,  # as gistcad train builds it
    )
    started = time.perf_counter()
    new.prepare(table, None)
    print(f"features of {len(table)} patients: {time.perf_counter() - started:.0f} s")
    models = {
        "clinical": lambda tr, te: ClinicalLearner(n_classes, seed).fit_predict(
            table, labels, tr, te
        ),
        "radiomics before": _before(table, data, labels, n_classes, seed),
        "radiomics": lambda tr, te: new.fit_predict(table, labels, tr, te),
    }
    runs = {name: (target, labels, fit) for name, fit in models.items()}
    if target is Target.KIT11:  # the four-class model's p(KIT exon 11), on the same folds
        four = labels_for(table, Target.GENOTYPE)
        new4 = RadiomicsLearner(
            n_classes=len(Target.GENOTYPE.classes),
            data_dir=data,
            seed=seed,
            settings=searched,
            search_settings=SearchSettings(),
        )
        runs["radiomics, 4 classes"] = (
            Target.GENOTYPE,
            four,
            lambda tr, te: new4.fit_predict(table, four, tr, te),
        )
    references = json.loads((cohort / "ceiling.json").read_text())
    rows = []
    for name, (task, y, fit_predict) in runs.items():
        started = time.perf_counter()
        oof = out_of_fold(table, y, task.classes, Scheme.KFOLD, fit_predict, seed=seed, plan=plan)
        # KIT exon 11: the last class of a binary target, the first of the genotype
        index = 0 if task is Target.GENOTYPE else len(task.classes) - 1
        score = oof[f"p_{task.classes[index]}"]
        positive = (oof["label"] == index).astype(int)
        per_center = [
            roc_auc(score[oof["center"] == c], positive[oof["center"] == c])
            for c in sorted(oof["center"].unique())
        ]
        rows.append(
            {
                "model": name,
                "auc": roc_auc(score, positive),
                "center_mean_auc": float(np.nanmean(per_center)),
                "n": len(oof),
                "seconds": time.perf_counter() - started,
            }
        )
        print(rows[-1], flush=True)
    print("references:", json.dumps(references.get("references", references.get("pooled"))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="DATA_DIR:COHORT_DIR pairs")
    parser.add_argument("--target", default="kit11", choices=[t.value for t in Target])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for pair in args.folders:
        data, cohort = (Path(p) for p in pair.split(":"))
        rows = measure(data, cohort, Target(args.target), args.seed)
        print(f"\n{cohort.name} ({args.target}, 5-fold out of fold, shared folds)")
        print("| model | AUC | mean of per-center AUCs | seconds |")
        for r in rows:
            auc, mean = f"{r['auc']:.3f}", f"{r['center_mean_auc']:.3f}"
            print(f"| {r['model']} | {auc} | {mean} | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
