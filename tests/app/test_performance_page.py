"""AppTest of the model performance page on a trained clinical model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import ModelKind
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.layout import DataLayout
from gistcad.modelling.folds import Scheme
from gistcad.modelling.oracle_link import COLUMNS
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope
from gistcad.store.models import Patient
from tests.app.conftest import APP
from tests.factories import seed_cohort


@pytest.fixture
def trained(app_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("models")
    with Session(app_db) as s:
        seed_cohort(s, n=80, with_series=True)
        train(
            s,
            AccessScope.everything(),
            data_dir,
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="clin-geno"),
        )
        s.commit()


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/performance.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_per_center_metrics_and_tasks(trained: None) -> None:
    at = _page()
    assert at.selectbox(key="perf_model").value == 2  # the newest model first
    table = at.dataframe[0].value
    assert list(table["Center"]) == ["Alpha", "Beta", "All centers"]
    assert table.set_index("Center").loc["All centers", "Patients"] == 80
    # the pooled row's mean of the per-center AUCs, in the table and under the forest
    rows = table.set_index("Center")
    mean = (rows.loc["Alpha", "AUC"] + rows.loc["Beta", "AUC"]) / 2
    pooled = rows.loc["All centers"]  # a column with empty cells is shown as text
    assert pooled["Mean AUC of the centers"] == f"{mean:.4f}"
    low, high = (float(pooled[f"Mean AUC of the centers, 95 % CI {b}"]) for b in ("lower", "upper"))
    assert low < mean < high
    assert rows.loc["Alpha", "Mean AUC of the centers"] == "—"
    assert any(
        f"Mean of centers: the unweighted mean of the per-center AUCs, {mean:.3f} (95 % CI "
        in c.value
        for c in at.caption
    )
    assert any(
        "Every figure on this page comes from out-of-fold predictions (k-fold "
        "cross-validation)" in c.value
        for c in at.caption
    )
    at.radio(key="perf_task").set_value("pdgfra_vs_rest").run()
    assert not at.exception
    wrong = at.dataframe[-1].value
    assert wrong["case"].str.startswith("/case?patient=P-").all()
    classes = {"KIT exon 11", "KIT exon 9", "PDGFRA", "Wild-type / other"}  # labels, not codes
    assert set(wrong["True class"]) | set(wrong["Predicted class"]) <= classes


def test_a_model_without_evaluation_says_why(trained: None) -> None:
    at = _page()
    at.selectbox(key="perf_model").set_value(1).run()  # seed_cohort's bare model row
    assert any("no out-of-fold predictions" in e.value for e in at.error)


def test_no_model_yet(app_db: Engine) -> None:
    at = _page()
    assert any("No model is registered yet" in i.value for i in at.info)


def test_the_demo_oracle_gives_the_ceiling_and_never_creates_the_key(
    trained: None, tmp_path: Path
) -> None:
    layout = DataLayout(tmp_path)  # the app's data folder (app_db)
    layout.demo_oracle.parent.mkdir()
    header = ",".join(["center", "hospital_id", *COLUMNS])
    layout.demo_oracle.write_text(f"{header}\nAlpha,001,{','.join(['0.5'] * len(COLUMNS))}\n")
    at = _page()
    assert "Ceiling AUC" not in at.dataframe[0].value  # nothing imported: nothing to link
    assert not layout.pseudonym_key.exists()
    layout.pseudonym_key.write_bytes(bytes(range(32)))
    at = _page()
    # linked with the key; the oracle names none of seed_cohort's patients: no ceiling value
    table = at.dataframe[0].value
    assert "Ceiling AUC" in table and (table["Ceiling AUC"] == "—").all()


def test_the_models_are_compared_on_the_same_patients_with_one_marker_legend(
    app_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("compared")
    with Session(app_db) as s:
        seed_cohort(s, n=80, with_series=True)
        for request in (
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="geno"),
            TrainRequest(ModelKind.CLINICAL, Target.KIT11, name="k11", folds_from="geno"),
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, Scheme.HOLDOUT, name="held"),
        ):
            train(s, AccessScope.everything(), data_dir, request)
        s.commit()
    at = _page()
    at.selectbox(key="perf_model").set_value(2).run()  # geno, a k-fold genotype model
    assert not at.exception, at.exception
    (paired,) = [d.value for d in at.dataframe if "p (DeLong)" in d.value]
    # the KIT exon 11 model answers the same question: compared, on the same patients
    assert list(paired["Model"]) == ["k11 (Clinical)"] * 3
    assert list(paired["Center"]) == ["Alpha", "Beta", "All centers"]
    assert paired["Patients"].iloc[:2].sum() == paired["Patients"].iloc[2] == 80
    assert "AUC of geno (Clinical)" in paired
    captions = " ".join(c.value for c in at.caption)
    assert "2 models, each evaluated on the same 80 patients" in captions
    assert "held (Clinical) is not compared here: it was evaluated on a hold-out" in captions
    assert captions.count("Markers: filled = a model with its 95 % CI") == 2  # both forests


def test_the_forest_draws_the_four_synthetic_references_of_a_linked_oracle(
    app_db: Engine, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An imported synthetic cohort's oracle (linked by the data folder's key) puts the latent
    ceiling, the same with age and sex, the observable reference and the clinical oracle on
    the AUC forest, each its own trace, with the AUC of its posterior per center."""
    layout = DataLayout(tmp_path)  # the app's data folder (app_db)
    layout.pseudonym_key.parent.mkdir(parents=True, exist_ok=True)
    layout.pseudonym_key.write_bytes(bytes(range(32)))
    pseudonymizer = Pseudonymizer(bytes(range(32)))
    rows = []
    with Session(app_db) as s:  # as an import would: pseudonyms from (center, hospital id)
        seed_cohort(s, n=80, with_series=True)
        patients = s.scalars(select(Patient).order_by(Patient.id)).all()
        for i, patient in enumerate(patients):
            center = patient.center.name
            patient.pseudonym = pseudonymizer.pseudonym(center, f"{i:03d}")
            rows.append((center, f"{i:03d}", patient.id))
        s.flush()
        truth = _genotypes(s)
        request = TrainRequest(ModelKind.CLINICAL, Target.KIT11, name="clin-k11")
        train(s, AccessScope.everything(), tmp_path_factory.mktemp("models"), request)
        s.commit()
    rng = np.random.default_rng(0)
    oracle = []
    for center, hospital_id, patient_id in rows:
        kit11 = truth[patient_id] == "kit11"
        posterior = {  # the references' posteriors, each sharper than the one after it
            "": 0.5 + (0.35 if kit11 else -0.35) + rng.normal(0, 0.1),
            "latent_with_age_sex_": 0.5 + (0.3 if kit11 else -0.3) + rng.normal(0, 0.15),
            "observable_": 0.5 + (0.1 if kit11 else -0.1) + rng.normal(0, 0.2),
            "clinical_oracle_": 0.5 + rng.normal(0, 0.2),
        }
        oracle.append(
            {"center": center, "hospital_id": hospital_id}
            | {
                f"{prefix}{column}": (p if column == "p_kit11" else (1 - p) / 3)
                for prefix, p in posterior.items()
                for column in COLUMNS
            }
        )
    layout.demo_oracle.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(oracle).to_csv(layout.demo_oracle, index=False)
    at = _page()
    assert not at.exception, at.exception
    forest = next(c for c in at.get("plotly_chart") if "perf_forest" in c.proto.id)
    traces = {t["name"]: t for t in json.loads(forest.proto.spec)["data"]}
    names = [
        "synthetic ceiling",
        "synthetic ceiling with age and sex",
        "synthetic observable reference",
        "synthetic clinical oracle",
    ]
    assert set(names) <= set(traces)
    pooled = {name: dict(zip(traces[name]["y"], traces[name]["x"], strict=True)) for name in names}
    aucs = [pooled[name]["All centers"] for name in names]
    assert aucs == sorted(aucs, reverse=True)  # as the posteriors were made
    assert aucs[0] > 0.95 and 0.35 < aucs[-1] < 0.65  # the clinical oracle knows nothing here


def _genotypes(session: Session) -> dict[int, str]:
    """Each patient's genotype group as the KIT exon 11 question reads it."""
    from gistcad.modelling.targets import labels_for
    from gistcad.store.model_queries import modelling_table

    table = modelling_table(session, AccessScope.everything())
    labels = labels_for(table, Target.KIT11)
    return {
        int(p): ("kit11" if label == 1 else "rest")
        for p, label in zip(table["patient_id"], labels, strict=True)
    }
