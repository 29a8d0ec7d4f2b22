"""The synthetic references beside a model's AUC: read from oracle.csv, evaluated per center."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gistcad.analysis.performance import roc_auc
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.modelling import oracle_link
from gistcad.modelling.evaluation import POOLED, REFERENCE_AUC_COLUMNS, evaluate
from gistcad.modelling.targets import Target
from gistcad.synth import oracle as synth_oracle


def test_the_reader_names_the_references_as_the_generator_writes_them() -> None:
    assert synth_oracle.REFERENCES[1:] == oracle_link.REFERENCES
    assert synth_oracle.REFERENCES[0] == "latent"
    assert list(synth_oracle.POSTERIOR_COLUMNS) == oracle_link.COLUMNS
    for reference in oracle_link.REFERENCES:
        for column in oracle_link.COLUMNS:
            written = synth_oracle.reference_column(reference, column)
            assert written in oracle_link.REFERENCE_COLUMNS


def test_an_oracle_with_references_is_linked_and_an_older_one_reads_nan(tmp_path: Path) -> None:
    pseudonymizer = Pseudonymizer(bytes(range(32)))
    values = {c: [0.25] for c in oracle_link.COLUMNS}
    newer = pd.DataFrame({"center": ["Alpha"], "hospital_id": ["001"], **values})
    for column in oracle_link.REFERENCE_COLUMNS:
        newer[column] = 0.125
    newer.to_csv(tmp_path / "oracle.csv", index=False)
    linked = oracle_link.load_oracle(tmp_path / "oracle.csv", pseudonymizer)
    assert (linked[oracle_link.REFERENCE_COLUMNS] == 0.125).all().all()
    assert linked.loc[0, "pseudonym"] == pseudonymizer.pseudonym("Alpha", "001")
    newer.drop(columns=oracle_link.REFERENCE_COLUMNS).to_csv(tmp_path / "oracle.csv", index=False)
    older = oracle_link.load_oracle(tmp_path / "oracle.csv", pseudonymizer)
    assert older[oracle_link.REFERENCE_COLUMNS].isna().all().all()


def test_each_reference_is_evaluated_on_the_models_patients() -> None:
    rng = np.random.default_rng(4)
    n = 150
    label = rng.integers(0, 4, n)
    probs = rng.dirichlet(np.ones(4), n)
    oof = pd.DataFrame(probs, columns=["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other"])
    oof["label"], oof["pseudonym"] = label, [f"P{i}" for i in range(n)]
    oof["center"] = np.where(np.arange(n) < 90, "Big", "Small")
    noisy = (label == 0) + rng.normal(0.0, 0.8, n)
    oracle = pd.DataFrame(
        {
            "pseudonym": [f"P{i}" for i in range(n)][::-1],  # joined by pseudonym, not row
            "p_kit11": ((label == 0) * 0.9 + 0.05)[::-1],
            "observable_p_kit11": noisy[::-1],
        }
    )
    table = evaluate(oof, Target.GENOTYPE, oracle=oracle).tables["kit11_vs_rest"]
    table = table.set_index("center")
    truth = (label == 0).astype(int)
    assert table.loc[POOLED, "ceiling_auc"] == 1.0
    assert table.loc[POOLED, "observable_auc"] == roc_auc(noisy, truth)
    big = np.arange(n) < 90
    assert table.loc["Big", "observable_auc"] == roc_auc(noisy[big], truth[big])
    for reference in ("latent_with_age_sex", "clinical_oracle"):  # not in this oracle
        assert table[REFERENCE_AUC_COLUMNS[reference]].isna().all()
