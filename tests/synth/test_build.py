"""``gistcad demo build``: layout, export quirks per center, validity, determinism."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from gistcad.cli import main
from gistcad.errors import ValidationError
from gistcad.synth.build import BuildOptions, build_cohort, draw_build_cohort
from gistcad.synth.oracle import REFERENCES, reference_column
from gistcad.synth.prognosis import CEILING_KEYS, RECURRENCE_TRUTH_COLUMNS, rfs_ceilings

SMALL = {"patients": 30, "centers": 6, "seed": 3, "matrix": 64, "scan_length_mm": 60.0}


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "cohort"
    build_cohort(BuildOptions(out=out, workers=2, **SMALL))  # type: ignore[arg-type]
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_layout_and_manifest(cohort_dir: Path) -> None:
    manifest = json.loads((cohort_dir / "manifest.json").read_text())
    assert manifest["options"]["patients"] == 30
    assert sum(manifest["patients_by_center"].values()) == 30
    assert {p.name for p in cohort_dir.iterdir()} == {
        "README.txt",
        "manifest.json",
        "oracle.csv",
        "ceiling.json",
        "centers",
        "follow_up_truth.csv",
        "follow_up_categories.csv",
        "follow_up_posterior.csv",
    }
    assert "NEVER import it" in (cohort_dir / "README.txt").read_text()
    oracle = pd.read_csv(cohort_dir / "oracle.csv")
    assert len(oracle) == 30
    probs = oracle[["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other"]].sum(axis=1)
    assert ((probs - 1).abs() < 1e-5).all()
    ceiling = json.loads((cohort_dir / "ceiling.json").read_text())
    assert set(ceiling["pooled"]) == {
        "kit11_vs_rest",
        "kit_mutant_vs_not",
        "pdgfra_vs_rest",
        "high_risk_vs_not",
    }
    # every reference, pooled, with its posterior in oracle.csv; the latent one is the ceiling
    references = ceiling["references"]
    assert set(references) == set(REFERENCES)
    assert references["latent"] == ceiling["pooled"] == manifest["ceilings"]
    assert manifest["references"] == references
    for reference in REFERENCES:
        assert set(references[reference]) == set(ceiling["pooled"])
        columns = [reference_column(reference, c) for c in ("p_kit11", "p_kit9", "p_pdgfra")]
        columns.append(reference_column(reference, "p_wt_other"))
        assert ((oracle[columns].sum(axis=1) - 1).abs() < 1e-5).all()


def test_oracle_holds_the_recurrence_truth_and_ceiling_its_c_index(cohort_dir: Path) -> None:
    oracle = pd.read_csv(cohort_dir / "oracle.csv")
    assert oracle[list(RECURRENCE_TRUTH_COLUMNS)].notna().all().all()
    ceiling = json.loads((cohort_dir / "ceiling.json").read_text())
    # the ceilings are Harrell's C of the written truth against the drawn outcomes
    cohort, _ = draw_build_cohort(BuildOptions(out=cohort_dir, **SMALL))  # type: ignore[arg-type]
    expected = rfs_ceilings(cohort, oracle[["patient_index", *RECURRENCE_TRUTH_COLUMNS]])
    assert set(expected) == set(CEILING_KEYS)
    for key in CEILING_KEYS:
        assert set(ceiling[key]) == {"pooled", *oracle["center"]}
        assert ceiling[key] == pytest.approx(expected[key], abs=1e-6, nan_ok=True)
    assert ceiling["rfs_c_with_trait"]["pooled"] != ceiling["rfs_c_clinical"]["pooled"]


def test_each_center_exports_its_own_way(cohort_dir: Path) -> None:
    centers = cohort_dir / "centers"
    names = {"Rotterdam", "Lyon", "Warsaw", "Seoul", "Boston", "Milan"}
    assert {p.name for p in centers.iterdir()} == names  # this seed reaches every center
    lyon = (centers / "Lyon" / "clinical.csv").read_text().splitlines()
    assert lyon[0].count(";") > 10 and "," in lyon[1]  # ';' separators, decimal commas
    seoul = (centers / "Seoul" / "clinical.csv").read_text().splitlines()[0]
    assert seoul.startswith("mrn,patient_name,date_of_birth")  # aliases + identities
    assert (centers / "Warsaw" / "clinical.xlsx").is_file()
    assert (centers / "Rotterdam" / "clinical.csv").read_text().startswith("patient_id,sex,")
    assert list((centers / "Warsaw" / "dicom").glob("*/RTSTRUCT/rtstruct.dcm"))
    for seg_center in ("Rotterdam", "Seoul"):
        assert list((centers / seg_center / "dicom").glob("*/SEG/seg.dcm"))
    for nifti_center in ("Lyon", "Boston", "Milan"):
        assert list((centers / nifti_center / "masks").glob("*.nii.gz"))


def test_dicom_is_valid_and_carries_fake_identities(cohort_dir: Path) -> None:
    series = sorted((cohort_dir / "centers").glob("*/dicom/*/CT"))
    assert len(series) == 30
    files = sorted(series[0].glob("*.dcm"))
    datasets = [pydicom.dcmread(f) for f in files]
    assert {ds.SeriesInstanceUID for ds in datasets} == {datasets[0].SeriesInstanceUID}
    z = sorted(float(ds.ImagePositionPatient[2]) for ds in datasets)
    steps = {round(b - a, 3) for a, b in itertools.pairwise(z)}
    assert steps == {float(datasets[0].SliceThickness)}
    assert datasets[0].Rows == 64 and datasets[0].PatientName and datasets[0].PatientBirthDate
    assert datasets[0].PatientID == series[0].parent.name


def test_same_options_same_bytes(cohort_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_cohort(BuildOptions(out=again, workers=1, **SMALL))  # type: ignore[arg-type]
    assert _digest(again) == _digest(cohort_dir)


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ValidationError, match="not an empty folder"):
        build_cohort(BuildOptions(out=tmp_path, patients=2, matrix=64))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patients": 0}, "--patients must be at least 1"),
        ({"matrix": 32}, "--matrix must be between 64 and 512"),
        ({"seed": -1}, "--seed must be >= 0"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BuildOptions(out=tmp_path / "x", **kwargs)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["demo", "build", "--out", str(out), "--patients", "3", "--centers", "2"]
    assert main([*args, "--matrix", "64", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("3 patients (") and "ceiling AUCs: kit11_vs_rest" in printed
    assert "reference AUCs, KIT exon 11 vs rest: latent " in printed
    assert "observable " in printed and "clinical_oracle " in printed
    assert "RFS C-index ceilings (pooled): rfs_c_clinical " in printed
    assert main([*args, "--signal", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "gistcad: error: --signal must lie in [0, 1] (got 2.0); 0 is the no-signal control\n"
    )
