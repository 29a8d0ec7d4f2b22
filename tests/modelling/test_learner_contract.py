"""One contract, every learner: the trainer drives the clinical, radiomics and deep models alike.

Each learner (:func:`gistcad.modelling.trainer.make_learner`) is fitted on a tiny cohort of
synthetic NIfTI images written here (a bright sphere in noise, brighter for KIT exon 11) and
must: give class probabilities of shape (patients, classes) that sum to 1, out of fold and
on the whole table; give a risk score of shape (patients,) when it has one; predict exactly
the same after a save → load round trip; and refuse to load a file whose checksum is not the
one recorded at saving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.domain import GenotypeClass, GenotypeDetail, ModelKind, Site
from gistcad.errors import ValidationError
from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import Volume
from gistcad.modelling.dl_model import DlSettings
from gistcad.modelling.harmonisation import table_centers
from gistcad.modelling.learners import Learner, Scores
from gistcad.modelling.radiomics_model import (
    LOGISTIC,
    SEARCH,
    RadiomicsLearner,
    RadiomicsRecipe,
    RadiomicsSettings,
    feature_table,
)
from gistcad.modelling.radiomics_search import clinical_covariates
from gistcad.modelling.targets import CLASSES, Target, labels_for
from gistcad.modelling.trainer import TrainRequest, make_learner
from gistcad.store.model_queries import MODELLING_COLUMNS, RESPONSE_LABEL_COLUMNS
from tests.modelling.test_radiomics_search import TINY

N = 18
SHAPE = (20, 20, 10)
SPACING_MM = (1.5, 1.5, 3.0)
#: The deep model's smallest useful run: one epoch, small batches, on the CPU.
TINY_DL = DlSettings(epochs=1, patience=1, batch_size=6)
#: The radiomics model search of ``gistcad train`` (solid part, covariates, ComBat, ensemble)
#: with a smaller grid: the same code, fewer fits.
TINY_SEARCH = RadiomicsRecipe(SEARCH.settings, TINY)
#: (model kind, target): every kind, the deep and clinical models also with four classes,
#: every kind with a response target, and the imaging risk score (radiomics, rfs).
CASES = [
    (ModelKind.CLINICAL, Target.KIT11),
    (ModelKind.CLINICAL, Target.GENOTYPE),
    (ModelKind.RADIOMICS, Target.KIT11),
    (ModelKind.CLINICAL, Target.CHOI_PR_FU1),
    (ModelKind.RADIOMICS, Target.PROGRESSION_6M),
    (ModelKind.RADIOMICS, Target.RFS),
    (ModelKind.DL, Target.KIT11),
    (ModelKind.DL, Target.GENOTYPE),
    (ModelKind.DL, Target.CHOI_PR_FU1),
    (ModelKind.DL, Target.PROGRESSION_6M),
]
GENOTYPES = [
    GenotypeDetail.KIT11_DEL_557_558,
    GenotypeDetail.KIT11_SUBSTITUTION,
    GenotypeDetail.KIT9,
    GenotypeDetail.PDGFRA_D842V,
    GenotypeDetail.WT_OTHER,
    GenotypeDetail.KIT11_DEL_OTHER,
]


def _patient_images(
    data_dir: Path,
    i: int,
    bright: bool,
    rng: np.random.Generator,
    tumour_offset_hu: float = 0.0,
) -> dict[str, str]:
    """One patient's CT (HU) and tumour mask as canonical NIfTI files in ``data_dir``; the
    tumour's HU raised by ``tumour_offset_hu`` (a scanner's effect)."""
    affine = np.diag([*SPACING_MM, 1.0])
    grid = np.indices(SHAPE).astype(float)
    centre = np.array(SHAPE) / 2 + rng.uniform(-1.5, 1.5, 3)
    radius_mm = rng.uniform(6.0, 9.0)
    distance = np.sqrt(sum(((grid[a] - centre[a]) * SPACING_MM[a]) ** 2 for a in range(3)))
    mask = (distance <= radius_mm).astype(np.uint8)
    hu = rng.normal(-40.0, 15.0, SHAPE) + mask * ((80.0 if bright else 45.0) + tumour_offset_hu)
    hu += mask * rng.normal(0.0, 10.0, SHAPE)
    volume_path, mask_path = f"volumes/p{i:02d}.nii", f"volumes/p{i:02d}_mask.nii"
    (data_dir / "volumes").mkdir(exist_ok=True)
    volume_sha = write_canonical(Volume(hu.astype(np.int16), affine), data_dir / volume_path)
    mask_sha = write_canonical(Volume(mask, affine), data_dir / mask_path)
    return {
        "volume_path": volume_path,
        "mask_path": mask_path,
        "volume_sha256": volume_sha,
        "mask_sha256": mask_sha,
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A data folder of N patients' images and their modelling table (seeded)."""
    data_dir = tmp_path_factory.mktemp("learners")
    rng = np.random.default_rng(5)
    sites = [Site.STOMACH, Site.JEJUNUM_ILEUM, Site.DUODENUM]
    rows = []
    for i in range(N):
        genotype = GENOTYPES[i % len(GENOTYPES)]
        rows.append(
            {
                "pseudonym": f"P-{i:03d}",
                "genotype_detail": genotype.value,
                "site": sites[i % 3].value,
                "sex": "female" if i % 2 else "male",
                "age_at_diagnosis": float(45 + 2 * i),
                "size_cm": float(2 + i % 7),
                "rfs_months": float(6 + 3 * i),
                "rfs_event": i % 3 == 0,
                "choi_pr_fu1": float(i % 2),
                "progression_6m": float(i % 3 == 1),
                **_patient_images(data_dir, i, genotype.value.startswith("kit11"), rng),
            }
        )
    return data_dir, pd.DataFrame(rows)


def _learner(kind: ModelKind, target: Target, data_dir: Path) -> Learner:
    request = TrainRequest(kind=kind, target=target, seed=3)
    return make_learner(request, data_dir, dl_settings=TINY_DL, device="cpu", radiomics=TINY_SEARCH)


def test_gistcad_train_builds_the_radiomics_search_unless_asked_for_the_logistic_one(
    tmp_path: Path,
) -> None:
    def built(request: TrainRequest) -> RadiomicsLearner:
        learner = make_learner(request, tmp_path)
        assert isinstance(learner, RadiomicsLearner)
        return learner

    searched = built(TrainRequest(kind=ModelKind.RADIOMICS, target=Target.KIT11))
    assert searched.recipe == SEARCH and searched.settings.solid_part
    assert searched.search_settings is not None
    # KIT exon 11 vs rest is fitted on the genotype's four classes; other targets on their own
    assert searched.kit11 and searched.search_settings.genotype_classes
    assert not built(TrainRequest(kind=ModelKind.RADIOMICS, target=Target.GENOTYPE)).kit11
    logistic = built(
        TrainRequest(kind=ModelKind.RADIOMICS, target=Target.KIT11, radiomics="logistic")
    )
    assert logistic.recipe == LOGISTIC and logistic.search_settings is None
    # a registered version's recipe wins over the request's default
    request = TrainRequest(kind=ModelKind.RADIOMICS, target=Target.GENOTYPE)
    assert make_learner(request, tmp_path, radiomics=LOGISTIC).recipe == LOGISTIC  # type: ignore[attr-defined]


def test_the_logistic_radiomics_pipeline_keeps_the_contract(
    cohort: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """``--radiomics logistic``: the tuned logistic regression on the whole tumour's features."""
    data_dir, table = cohort
    labels = labels_for(table, Target.KIT11)
    request = TrainRequest(kind=ModelKind.RADIOMICS, target=Target.KIT11, radiomics="logistic")
    learner = make_learner(request, data_dir)
    rows = np.arange(N)
    test, train = rows[::3], np.setdiff1d(rows, rows[::3])
    out = learner.fit_predict(table, labels, train, test)
    _assert_probabilities(out if isinstance(out, Scores) else Scores(out), test.size, 2)
    fitted = learner.fit(table, labels, rows)
    assert "model" in fitted and not any(c.startswith("solid_") for c in fitted["columns"])
    scores = learner.predict(fitted, table)
    _assert_probabilities(scores, N, 2)
    path, sha256 = learner.save(fitted, tmp_path)
    again = learner.predict(learner.load(path, sha256), table)
    np.testing.assert_array_equal(again.probabilities, scores.probabilities)


def _assert_probabilities(scores: Scores, n: int, n_classes: int) -> None:
    proba = scores.probabilities
    assert proba.shape == (n, n_classes)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_every_model_kind_is_in_the_contract() -> None:
    assert {kind for kind, _ in CASES} == set(ModelKind)


@pytest.mark.parametrize("target", [Target.KIT11, Target.GENOTYPE], ids=str)
def test_the_searched_radiomics_learner_keeps_the_contract(
    target: Target, cohort: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    # the WORC-style search (solid part, covariates, ComBat, ensemble) behind the same contract
    data_dir, table = cohort
    labels = labels_for(table, target)
    n_classes = len(target.classes)
    learner = RadiomicsLearner(
        n_classes=n_classes,
        data_dir=data_dir,
        seed=3,
        settings=RadiomicsSettings(solid_part=True),
        search_settings=TINY,
        kit11=target is Target.KIT11,  # as make_learner builds it
    )
    rows = np.arange(N)
    test, train = rows[::3], np.setdiff1d(rows, rows[::3])
    out = learner.fit_predict(table, labels, train, test)
    _assert_probabilities(out if isinstance(out, Scores) else Scores(out), test.size, n_classes)
    fitted = learner.fit(table, labels, rows)
    assert any(c.startswith("solid_") for c in fitted["columns"])
    assert len(fitted["members"]) >= 1
    # KIT exon 11 vs rest: fitted on the genotype classes, P(KIT exon 11) their KIT 11 column
    via_genotype = target is Target.KIT11
    assert fitted["via_genotype"] is via_genotype
    genotype = labels_for(table, Target.GENOTYPE)
    assert list(fitted["ensemble"].classes) == sorted(set(genotype if via_genotype else labels))
    scores = learner.predict(fitted, table)
    _assert_probabilities(scores, N, n_classes)
    path, sha256 = learner.save(fitted, tmp_path)
    again = learner.predict(learner.load(path, sha256), table)
    np.testing.assert_array_equal(again.probabilities, scores.probabilities)
    if via_genotype:
        # labels that are not the table's KIT exon 11 status are refused, not silently replaced
        with pytest.raises(ValueError, match="do not follow the table's genotype"):
            learner.fit(table, 1 - labels, rows)
        ensemble = fitted["ensemble"]
        four = ensemble.predict_proba(
            feature_table(table, data_dir, learner.settings),
            clinical_covariates(table),
            table_centers(table),
        )
        kit11 = list(ensemble.classes).index(CLASSES.index(GenotypeClass.KIT11))
        np.testing.assert_allclose(scores.probabilities[:, 1], four[:, kit11])


@pytest.mark.parametrize(("kind", "target"), CASES, ids=lambda v: str(v))
def test_the_learner_contract(
    kind: ModelKind, target: Target, cohort: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    data_dir, table = cohort
    labels = labels_for(table, target)
    n_classes = len(target.classes)
    assert (labels >= 0).all() and len(set(labels)) == n_classes  # every class is present
    learner = _learner(kind, target, data_dir)
    assert learner.kind is kind and learner.n_classes == n_classes

    # out of fold: probabilities for the test rows only
    rows = np.arange(N)
    test, train = rows[::3], np.setdiff1d(rows, rows[::3])
    out = learner.fit_predict(table, labels, train, test)
    _assert_probabilities(out if isinstance(out, Scores) else Scores(out), test.size, n_classes)

    # the final model on every row
    fitted = learner.fit(table, labels, rows)
    scores = learner.predict(fitted, table)
    _assert_probabilities(scores, N, n_classes)
    if kind is ModelKind.DL or target.is_survival:  # a Cox model's imaging risk score
        assert scores.risk_score is not None
        assert scores.risk_score.shape == (N,) and np.isfinite(scores.risk_score).all()
    else:
        assert scores.risk_score is None

    # save → load gives the same predictions
    path, sha256 = learner.save(fitted, tmp_path)
    assert path.is_file() and path.parent == tmp_path and len(sha256) == 64
    again = learner.predict(learner.load(path, sha256), table)
    np.testing.assert_array_equal(again.probabilities, scores.probabilities)
    if scores.risk_score is not None:
        assert again.risk_score is not None
        np.testing.assert_array_equal(again.risk_score, scores.risk_score)

    # a checksum other than the recorded one: refused, the file is not loaded
    with pytest.raises(ValidationError, match=r"sha256 .*not loaded"):
        learner.load(path, "0" * 64)
    with path.open("ab") as handle:  # the file changed after it was recorded
        handle.write(b"\0")
    with pytest.raises(ValidationError, match="changed or damaged"):
        learner.load(path, sha256)


#: the only columns of the modelling table a model may read: the CT and its outline (their
#: files and checksums) and the scanner's tube voltage, where and in whom the tumour grows
#: (site, size, age, sex), the center (harmonisation) and the row's identity. Anything else —
#: today mitoses, rupture, the genotype, follow-up and response labels, and any column a later
#: version adds to the table — is changed by the test below, which must not change a model.
ALLOWED = frozenset(
    {
        "patient_id",
        "pseudonym",
        "series_id",
        "volume_path",
        "volume_sha256",
        "mask_path",
        "mask_sha256",
        "kvp",
        "center",
        "site",
        "size_cm",
        "age_at_diagnosis",
        "sex",
    }
)
#: values for the columns outside :data:`ALLOWED` that would leak the genotype or the answer:
#: known only after surgery (mitoses, rupture, histology), following from the genotype
#: (imatinib treatment), the genotype itself or the outcome (survival, the response labels).
#: Columns outside the allow-list that are not named here are shifted by one row. The labels
#: reach a learner only as its ``labels`` argument.
LEAKING = {
    "mitotic_count": [0.0, 250.0],
    "mitotic_unit": ["per_5mm2", "per_50hpf"],
    "rupture": [False, True],
    "histology": ["epithelioid", "spindle"],
    "genotype_detail": ["pdgfra_d842v", "kit11_del_557_558"],
    "genotype_group": ["PDGFRA", "KIT exon 11"],
    "adjuvant_imatinib": [1, 0],
    "neoadjuvant_imatinib": [0, 1],
    "rfs_months": [1.0, 500.0],
    "rfs_event": [False, True],
    "os_months": [1.0, 500.0],
    "os_event": [False, True],
    "choi_pr_fu1": [0.0, 1.0],
    "progression_6m": [1.0, 0.0],
}


def _every_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every column of the store's modelling table (and the leaking ones it
    might gain) filled in: identities, three centers, two tube voltages, mitoses, rupture."""
    full = table.copy()
    n = len(full)
    full["patient_id"] = np.arange(n) + 100
    full["series_id"] = np.arange(n) + 500
    full["center"] = [("Alpha", "Beta", "Gamma")[i % 3] for i in range(n)]
    full["kvp"] = [(100.0, 120.0)[i % 2] for i in range(n)]
    full["mitotic_count"] = [float(2 + i % 9) for i in range(n)]
    full["mitotic_unit"] = "per_5mm2"
    full["rupture"] = [i % 5 == 0 for i in range(n)]
    for column, values in LEAKING.items():
        if column not in full:
            full[column] = [values[(i + 1) % len(values)] for i in range(n)]
    stored = set(MODELLING_COLUMNS) | set(RESPONSE_LABEL_COLUMNS)
    assert stored <= set(full.columns), f"give the test table {sorted(stored - set(full))}"
    return full


def _changed_outside(table: pd.DataFrame, kept: set[str]) -> pd.DataFrame:
    """``table`` with every column but ``kept`` changed: the leaking ones to alternating,
    unrelated values, any other one shifted by a row."""
    other = table.copy()
    for column in table.columns:
        if column in kept:
            continue
        values = LEAKING.get(column)
        if values is None:
            other[column] = np.roll(table[column].to_numpy(), 1)
        else:
            other[column] = [values[i % len(values)] for i in range(len(other))]
    return other


def test_the_allow_list_covers_every_leaking_column() -> None:
    assert not ALLOWED & set(LEAKING)
    assert set(MODELLING_COLUMNS) - ALLOWED == {
        "mitotic_count",
        "mitotic_unit",
        "rupture",
        "genotype_detail",
        "rfs_months",
        "rfs_event",
    }


@pytest.mark.parametrize(("kind", "target"), CASES, ids=lambda v: str(v))
def test_no_model_reads_a_column_outside_the_allow_list(
    kind: ModelKind, target: Target, cohort: tuple[Path, pd.DataFrame]
) -> None:
    """Changing every column outside :data:`ALLOWED` changes neither a fitted model nor its
    predictions.

    The deep model learns from recurrence-free survival (its Cox head) and from the genotype
    (its genotype head, also for a response target), and the searched radiomics model of KIT
    exon 11 vs rest from the genotype (its four classes): training targets, so for them every
    other column outside the list is changed at fitting; at prediction every one is. The
    imaging risk score (target rfs) learns from recurrence-free survival alone: at fitting
    every column outside the list but that follow-up is changed.
    """
    data_dir, table = cohort
    table = _every_column(table)
    labels = labels_for(table, target)
    rows = np.arange(N)
    learner = _learner(kind, target, data_dir)
    fitted = learner.fit(table, labels, rows)
    scores = learner.predict(fitted, table)

    # at prediction: nothing outside the allow-list reaches the model
    blind = learner.predict(fitted, _changed_outside(table, set(ALLOWED)))
    np.testing.assert_array_equal(blind.probabilities, scores.probabilities)

    # at fitting: the same model comes out (the same seed, so bit-identical on this machine)
    learns_genotype = kind is ModelKind.DL or (
        kind is ModelKind.RADIOMICS and target is Target.KIT11
    )
    targets = set()
    if kind is ModelKind.DL or target.is_survival:
        targets |= {"rfs_months", "rfs_event"}
    if learns_genotype:
        targets.add("genotype_detail")
    other = _changed_outside(table, set(ALLOWED) | targets)
    refitted = _learner(kind, target, data_dir).fit(other, labels, rows)
    np.testing.assert_allclose(
        learner.predict(refitted, table).probabilities, scores.probabilities, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("target", [Target.CHOI_PR_FU1, Target.PROGRESSION_6M])
def test_the_deep_model_learns_a_response_target_with_its_response_head(
    target: Target, tmp_path: Path
) -> None:
    learner = make_learner(TrainRequest(kind=ModelKind.DL, target=target), tmp_path)
    assert getattr(learner, "response", False)
    assert learner.model_config().response_head  # type: ignore[attr-defined]
    genotype = make_learner(TrainRequest(kind=ModelKind.DL, target=Target.KIT11), tmp_path)
    assert not genotype.model_config().response_head  # type: ignore[attr-defined]
