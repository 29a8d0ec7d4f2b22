"""``gistcad survival`` on a small seeded database: every grouping, options and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.analysis.comparison import compare_groups
from gistcad.cli import main
from gistcad.commands.survival import format_report
from gistcad.store import make_engine, migrations
from gistcad.store.models import Patient
from tests.factories import add_validated_model, seed_cohort


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """60 patients in two centers with outcomes, and a model's predictions for all of them."""
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        truth = seed_cohort(s)
        s.commit()
    engine.dispose()
    return truth


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["survival", *args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _n(out: dict) -> dict[str, int]:
    return {row["group"]: row["n"] for row in out["summary"]}


def test_by_genotype(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "genotype", "--times", "12,60")
    assert _n(out) == {"KIT exon 11": 24, "PDGFRA": 12, "Wild-type": 12, "KIT exon 9": 12}
    assert sum(r["events"] for r in out["summary"]) == sum(seeded["events"])
    assert out["logrank"]["df"] == 3
    assert 0 <= out["logrank"]["p_value"] <= 1
    assert {r["time"] for r in out["at_risk"]} == {0, 12, 60}
    assert out["cox"]["reference_levels"]["group"] == "KIT exon 11"


def test_by_predicted_kit11_threshold(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "predicted", "--model", "clinical-v1", "--threshold", "0.5")
    positives = sum(seeded["kit11"])
    assert _n(out) == {"KIT exon 11": positives, "Not KIT exon 11": 60 - positives}
    assert out["model"] == "clinical-v1" and out["split"] == "kit11"


def test_by_predicted_four_class(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "predicted", "--model", "1", "--split", "four_class")
    assert sum(_n(out).values()) == 60
    assert set(_n(out)) <= {"KIT exon 11", "KIT exon 9", "PDGFRA", "Wild-type / other"}


def test_by_risk_and_center_with_adjustment(
    seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--by", "risk", "--scheme", "nih2002", "--min-group-size", "5")
    assert set(_n(out)) <= {"Very low", "Low", "Intermediate", "High"}
    assert sum(_n(out).values()) == 60
    out = _run(capsys, "--by", "center", "--adjust", "age,size", "--reference", "Beta")
    assert _n(out) == {"Alpha": 30, "Beta": 30}
    assert out["cox"] is not None, out["notes"]
    terms = [row["term"] for row in out["cox"]["table"]]
    assert len(terms) == 3 and out["reference"] == "Beta"


def test_landmark_and_center_filter(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "genotype", "--center", "Alpha", "--landmark", "12")
    assert sum(_n(out).values()) < 30
    assert any("Landmark at 12 months" in n for n in out["selection_notes"])


def test_small_groups_are_reported_not_dropped(
    seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--by", "genotype", "--min-group-size", "13")
    small = {row["group"] for row in out["summary"] if row["small_group"]}
    assert small == {"PDGFRA", "Wild-type", "KIT exon 9"}
    assert out["logrank"] is None
    assert any("fewer than 13" in n for n in out["notes"])


def test_text_report(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["survival", "--by", "genotype"]) == 0
    text = capsys.readouterr().out
    parts = ("Recurrence-free survival by genotype", "Number at risk", "log-rank: chi2", "Cox")
    for part in parts:
        assert part in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "predicted"], "--by predicted needs --model"),
        (["--by", "predicted", "--model", "nope"], "no model version 'nope'"),
        (["--by", "genotype", "--times", "a,b"], "times must be months >= 0, separated by commas"),
        (["--by", "shoe"], "unknown variable 'shoe'"),
        (["--by", "size"], "give cut points (size:5,10) or quantiles"),
        (["--by", "sex:5"], "categorical and takes no cut points"),
        (["--by", "center", "--reference", "Gamma"], "reference group 'Gamma' is not among"),
        (["--by", "genotype", "--adjust", "shoe"], "unknown covariate shoe"),
        (["--by", "genotype", "--center", "Gamma"], "holds no patients"),
        (
            ["--by", "predicted", "--model", "1", "--threshold", "1.5"],
            "not a probability threshold",
        ),
    ],
)
def test_errors_are_one_line(
    seeded: dict, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        status = main(["survival", *args])
    except SystemExit as exc:  # an argument refused by the parser itself
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# --- predicted status: out-of-fold for the training patients --------------------------------


@pytest.fixture
def validated(seeded: dict, tmp_path: Path) -> dict[str, int]:
    """Two KIT exon 11 models over the 60 patients: the final model calls everyone KIT exon 11,
    the out-of-fold predictions call the 50 training patients not KIT exon 11; 10 patients
    were never trained on. ``holdout`` has out-of-fold predictions for 20 of its 50."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    with Session(engine) as s:
        ids = sorted(s.scalars(select(Patient.id)).all())
        final = {pid: 0.9 for pid in ids}
        trained = ids[:50]
        kfold = add_validated_model(s, "kfold", final, {p: 0.1 for p in trained}, trained)
        holdout = add_validated_model(
            s, "holdout", final, {p: 0.1 for p in trained[:20]}, trained, scheme="holdout"
        )
        s.commit()
    engine.dispose()
    return {"kfold": kfold, "holdout": holdout}


def test_predicted_status_comes_from_out_of_fold_predictions(
    validated: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--by", "predicted", "--model", "kfold")
    assert _n(out) == {"Not KIT exon 11": 50, "KIT exon 11": 10}
    assert out["validation"] == "kfold" and out["in_sample"] is False
    assert sorted(out["prediction_sources"], key=lambda r: r["group"]) == [
        {"group": "KIT exon 11", "source": "final model, not trained on", "n": 10},
        {"group": "Not KIT exon 11", "source": "out-of-fold", "n": 50},
    ]
    sources = {row["group"]: row["prediction_source"] for row in out["summary"]}
    assert sources["Not KIT exon 11"] == "out-of-fold (k-fold cross-validation) 50"
    assert main(["survival", "--by", "predicted", "--model", "kfold"]) == 0
    text = capsys.readouterr().out
    assert "Source of the predicted status" in text
    assert "Predicted status from: out-of-fold (k-fold cross-validation) 50; final model" in text


def test_in_sample_only_is_refused_unless_asked(
    validated: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["survival", "--by", "predicted", "--model", "holdout"]) == 2
    err = capsys.readouterr().err
    assert "30 of the selected patients were used to train" in err and "--in-sample" in err
    out = _run(capsys, "--by", "predicted", "--model", "holdout", "--in-sample")
    assert out["in_sample"] is True
    assert _n(out) == {"KIT exon 11": 60}
    assert main(["survival", "--by", "predicted", "--model", "kfold", "--in-sample"]) == 0
    text = capsys.readouterr().out
    assert "[IN-SAMPLE predictions: overstates the separation]" in text.splitlines()[0]


# --- any variable, any unit -----------------------------------------------------------------


def test_numbers_by_cut_points_and_quantiles(
    seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(
        capsys,
        "--by",
        "size_cm:5,10",
        "--time-unit",
        "years",
        "--times",
        "2,5",
        "--min-group-size",
        "5",
    )
    assert list(_n(out)) == ["< 5 cm", "5 to < 10 cm", "≥ 10 cm"]
    assert sum(_n(out).values()) == 60
    assert out["time_unit"] == "years" and {r["time"] for r in out["at_risk"]} == {0, 2, 5}
    assert out["reference"] == "< 5 cm" and out["trend"]["df"] == 1
    out = _run(capsys, "--by", "age:tertiles", "--adjust", "size_cm:5,10", "--adjust", "center")
    assert sorted(_n(out).values()) == [20, 20, 20]
    terms = [row["term"] for row in out["cox"]["table"]]
    assert "size:5,10: 5 to < 10 cm vs < 5 cm" in terms and "center: Beta vs Alpha" in terms


def test_time_unit_scales_every_time(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    months = _run(capsys, "--by", "center", "--times", "24")
    days = _run(capsys, "--by", "center", "--time-unit", "days", "--times", "730.5")
    assert [r["median"] * 365.25 / 12 for r in months["summary"]] == pytest.approx(
        [r["median"] for r in days["summary"]]
    )
    assert [r["survival_at_24"] for r in months["summary"]] == pytest.approx(
        [r["survival_at_730.5"] for r in days["summary"]]
    )


def test_text_p_values_read_like_a_paper(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    data = pd.read_csv(Path(__file__).parents[1] / "data" / "freireich_6mp.csv")
    comparison = compare_groups(data["weeks"], data["relapse"], data["group"], times=[0, 10])
    header = {
        "endpoint": "rfs",
        "by": "arm",
        "split": None,
        "in_sample": False,
        "time_unit": "weeks",
        "selection_notes": [],
        "prediction_sources": None,
    }
    text = format_report(header, comparison)
    assert "log-rank: chi2 = 16.79, df = 1, p < 0.001" in text
    assert "p = <" not in text
