"""AppTest of the model performance page on a trained clinical model."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import ModelKind
from gistcad.layout import DataLayout
from gistcad.modelling.folds import Scheme
from gistcad.modelling.oracle_link import COLUMNS
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope
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
