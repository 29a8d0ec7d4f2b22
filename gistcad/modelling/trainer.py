"""Train a model on the stored cohort, evaluate it out of fold, register it, predict with it.

``train``: out-of-fold predictions over the chosen cross-validation scheme (every patient
predicted by a model that never saw it), their per-center evaluation, then the final model
fitted on every patient with a known label, saved with its sha256 and registered as a model
version with its parameters, training-data fingerprint, metrics and model card.
The folds are dealt by the seed and the pseudonyms (:mod:`gistcad.modelling.folds`), or kept
from an earlier version (``folds_from``); the assignment is stored with the version
(``metrics["folds"]``) and described in its card.
``predict``: loads a registered model (after the checksum matches) and writes prediction rows
tagged with its version.
An imaging risk score trained with a deep model's risk score (``deep_model``) reads that score
as an input: in training, the deep model's out-of-fold score for the patients it was trained
on and its final model's for the others (never an in-sample one; patients without such a
score are left out); in prediction, the deep model's stored prediction of the patient (a named
patient without one is refused; predicting every patient leaves such patients out).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.prediction_source import VALIDATION_LABELS
from gistcad.cluster import cluster_executor, map_cases
from gistcad.domain import ModelKind, Precision
from gistcad.errors import ValidationError
from gistcad.layout import DataLayout
from gistcad.modelling.artefacts import model_dir
from gistcad.modelling.crop_harmonisation import summary_text
from gistcad.modelling.crossval import out_of_fold
from gistcad.modelling.evaluation import POOLED, TASK_LABELS, center_mean_text, evaluate
from gistcad.modelling.folds import EarlierFolds, Scheme, plan_folds
from gistcad.modelling.learners import ClinicalLearner, IntArray, Learner, Scores
from gistcad.modelling.radiomics_model import LOGISTIC, RadiomicsLearner, RadiomicsRecipe
from gistcad.modelling.radiomics_search import search_candidates
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.risk_score_model import DEEP_RISK_COLUMN, RiskScoreLearner
from gistcad.modelling.survival_evaluation import DELTA_MEASURES, lr_text, reference_scores
from gistcad.modelling.targets import Target, labels_for, trainable_targets
from gistcad.modelling.tasks import FoldFit, PredictChunk, task_learner
from gistcad.progress import Progress
from gistcad.store import AccessScope, audit
from gistcad.store.model_queries import (
    ModelRiskScores,
    deep_final_risk_scores,
    deep_risk_scores,
    find_model_version,
    modelling_table,
)
from gistcad.store.models import ModelVersion, Prediction
from gistcad.store.writes import (
    add_model_version,
    ensure_name_free,
    get_model_version,
    replace_predictions,
)

if TYPE_CHECKING:  # the deep model's modules import torch and MONAI: only where it runs
    from gistcad.modelling.dl_model import DlLearner, DlSettings

logger = logging.getLogger(__name__)


def make_learner(
    request: TrainRequest,
    data_dir: Path,
    progress: Progress | None = None,
    dl_settings: DlSettings | None = None,
    device: str = "auto",
    nproc: int = 1,
    radiomics: RadiomicsRecipe | None = None,
    loader_workers: int = 0,
) -> Learner:
    """The learner of ``request``; the radiomics model (every target but survival) uses
    ``radiomics`` when given (a registered version's), else the pipeline the request names
    (:meth:`RadiomicsRecipe.named`); the deep model uses ``dl_settings`` when given (a
    registered version's), else :class:`DlSettings` with the request's epochs, ensemble,
    test-time views, crop and precision (:meth:`DlSettings.for_request`), and runs on
    ``device`` ("auto": CUDA when available) with its fits spread over ``nproc`` processes
    (:mod:`gistcad.neural.distributed`) and its batches read ahead by ``loader_workers``
    processes; these three are choices of this run, not stored."""
    if nproc != 1 and request.kind is not ModelKind.DL:
        raise ValidationError(
            f"--nproc spreads the deep model's training over processes; the {request.kind.value} "
            "model trains in one (leave --nproc out)"
        )
    if loader_workers != 0 and request.kind is not ModelKind.DL:
        raise ValidationError(
            f"--loader-workers reads the deep model's crops ahead of its training steps; the "
            f"{request.kind.value} model has none (leave --loader-workers out)"
        )
    n_classes = len(request.target.classes)
    # leave-one-center-out: the inner split (tuning, early stopping) also keeps centers apart
    by_center = request.scheme is Scheme.LOCO
    if request.target.is_survival:
        if request.target not in trainable_targets(request.kind):
            raise ValidationError(
                f"the imaging risk score for {request.target.value} is a penalised Cox model on "
                "radiomics features: train it with --model radiomics"
            )
        return RiskScoreLearner(
            n_classes=n_classes,
            data_dir=data_dir,
            seed=request.seed,
            deep_risk=request.deep_model is not None,
        )
    if request.kind is ModelKind.CLINICAL:
        return ClinicalLearner(n_classes=n_classes, seed=request.seed)
    if request.kind is ModelKind.RADIOMICS:
        recipe = radiomics or RadiomicsRecipe.named(request.radiomics, request.radiomics_ensemble)
        return RadiomicsLearner(
            n_classes=n_classes,
            data_dir=data_dir,
            seed=request.seed,
            settings=recipe.settings,
            progress=progress,
            inner_by_center=by_center,
            search_settings=recipe.search,
            kit11=request.target is Target.KIT11,
        )
    if request.target is Target.RISK:
        raise ValidationError(
            "the deep model predicts genotype (or KIT exon 11 vs rest) and a continuous risk "
            "score; train the risk target with --model clinical or radiomics"
        )
    from gistcad.modelling.dl_model import DlLearner, DlSettings

    settings = dl_settings or DlSettings.for_request(request)
    return DlLearner(
        n_classes=n_classes,
        data_dir=data_dir,
        seed=request.seed,
        settings=settings,
        progress=progress,
        device=device,
        inner_by_center=by_center,
        response=request.target.is_response,
        nproc=nproc,
        loader_workers=loader_workers,
    )


def fingerprint(table: pd.DataFrame, labels: np.ndarray) -> str:
    """sha256 over the training patients, their image and mask checksums and labels."""
    digest = hashlib.sha256()
    for row, label in zip(table.itertuples(index=False), labels, strict=True):
        digest.update(f"{row.pseudonym}|{row.volume_sha256}|{row.mask_sha256}|{label}\n".encode())
    return digest.hexdigest()


def model_card(
    request: TrainRequest,
    table: pd.DataFrame,
    metrics: dict[str, Any],
    *,
    dl_settings: DlSettings | None = None,
    radiomics: RadiomicsRecipe | None = None,
) -> str:
    """A short model card (Markdown): intended use, data, per-center performance, limits.

    ``dl_settings``: a deep model's settings (default: :class:`DlSettings`'), which say what
    it sees; ``radiomics``: a radiomics model's recipe (default: the request's).
    """
    inputs = _inputs_text(
        request.kind,
        dl_settings,
        request.target,
        request.deep_model,
        radiomics or RadiomicsRecipe.named(request.radiomics, request.radiomics_ensemble),
    )
    lines = [
        f"# {request.default_name()}",
        "",
        f"**Predicts** {request.target.label} ({', '.join(request.target.class_labels)}) "
        f"from {inputs}.",
        "",
        _intended_use(request.target),
        "",
        f"**Data:** {len(table)} patients from {table['center'].nunique()} centers "
        f"({', '.join(sorted(table['center'].unique()))}).",
        "",
        f"**Validation:** out-of-fold predictions ({VALIDATION_LABELS[request.scheme.value]}). "
        + ("Survival metrics:" if request.target.is_survival else "AUC (95 % CI):"),
    ]
    for task, rows in metrics["evaluation"]["tasks"].items():
        parts = [f"{r['center']} {_auc_text(r)}" for r in rows if r["auc"] is not None]
        pooled = [r for r in rows if r["center"] == POOLED and r.get("center_mean_auc") is not None]
        if pooled:
            parts.append(f"mean of the centers' AUCs {center_mean_text(pooled[0], digits=2)}")
        lines.append(f"- {TASK_LABELS[task]}: " + "; ".join(parts))
    lines += _survival_lines(metrics["evaluation"].get("survival") or {})
    if "folds" in metrics:
        lines += ["", f"**Folds:** {_folds_text(metrics['folds'])}"]
    if metrics.get("harmonisation") is not None:
        lines += ["", f"**Harmonisation:** {summary_text(metrics['harmonisation'])}"]
    if metrics.get("undescribed_patients"):
        left = metrics["undescribed_patients"]
        lines += [
            "",
            f"**Left out:** {len(left)} patient(s) {left_out_why(request.kind)} "
            f"({', '.join(left)}).",
        ]
    lines += [
        "",
        "**Limitations:** performance varies by center and scanner; small centers have wide "
        "intervals; on synthetic data compare with the ceiling, never above it.",
    ]
    return "\n".join(lines)


def _survival_lines(survival: dict[str, Any]) -> list[str]:
    """A survival model's card lines: C per center, ΔC over the schemes, the LR tests."""
    if not survival:
        return []
    lines = [
        "- Harrell's C (Uno's C): "
        + "; ".join(
            f"{r['center']} {_number(r['harrell_c'])} ({_number(r['uno_c'])})"
            for r in survival["metrics"]
        )
    ]
    for stored, measure in DELTA_MEASURES.items():
        for row in survival.get(stored, []):
            if row["center"] == POOLED:
                lines.append(
                    f"- ΔC over {row['reference']} ({measure}): {row['delta_c']:+.3f} "
                    f"({row['ci_lower']:+.3f} to {row['ci_upper']:+.3f})"
                )
    for test in survival["lr_tests"]:
        lines.append(f"- Score added to {test['base']}: {lr_text(test)}")
    return lines


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _intended_use(target: Target) -> str:
    """The card's intended use: genotype and risk, or the response to imatinib."""
    if target.is_survival:
        return (
            "**Intended use:** research on an imaging risk score of recurrence after "
            "resection, measured against the clinical risk schemes. Not for treatment "
            "decisions: the schemes use the pathology (mitoses, rupture) this score does not."
        )
    if target.is_response:
        return (
            "**Intended use:** research on predicting the response to imatinib from the "
            "baseline CT, before treatment; trained on the treated patients with that "
            "assessment only. Not for treatment decisions: the response is seen on follow-up CT."
        )
    return (
        "**Intended use:** research on genotype and risk prediction from pre-operative CT. "
        "Not for treatment decisions: the genotype must come from tissue."
    )


def _inputs_text(
    kind: ModelKind,
    dl_settings: DlSettings | None,
    target: Target | None = None,
    deep_model: str | None = None,
    radiomics: RadiomicsRecipe | None = None,
) -> str:
    """What a model sees, for its card (``radiomics``: the radiomics model's recipe)."""
    if target is not None and target.is_survival:
        deep = (
            f", the risk score of deep model {deep_model} (out-of-fold for the patients it was "
            "trained on)"
            if deep_model
            else ""
        )
        return (
            "ComBat-harmonised IBSI radiomics of the whole tumour and its solid part, and the "
            f"log tumour size{deep} (ridge-penalised Cox model; the score is its linear predictor)"
        )
    if kind is ModelKind.CLINICAL:
        return "site, tumour size on CT, age and sex (logistic regression)"
    if kind is ModelKind.RADIOMICS:
        return _radiomics_text(radiomics or RadiomicsRecipe.named("search"), target)
    from gistcad.modelling.dl_model import DlSettings
    from gistcad.neural.network import Architecture

    settings = dl_settings or DlSettings()
    text = "a tumour-centred CT crop and its mask (3D network"
    if settings.architecture is Architecture.DENSENET_SMALL_HISTOGRAM:
        text += ", with a learnable histogram of the CT inside the tumour"
    text += ")"
    if settings.covariates:
        extra = ", age and sex" if settings.clinical_covariates else ""
        text += (
            f", with the tumour's size (measured on its mask), primary site{extra} as "
            "covariates added to the network's outputs"
        )
    if settings.crop_policy.value == "fixed":
        text += f"; crops at a fixed {settings.crop_spacing_mm:g} mm per voxel"
    if settings.harmonise:
        text += (
            "; the tumour's CT level harmonised per center (ComBat fitted on the training "
            "patients, size and site protected)"
        )
    averaged = []
    if settings.ensemble > 1:
        averaged.append(f"{settings.ensemble} networks trained with different seeds")
    if settings.tta:
        averaged.append(f"the crop and {settings.tta} rotated and shifted views of it")
    if averaged:
        text += "; predictions averaged over " + " and over ".join(averaged)
    if settings.precision is not Precision.FP32:
        text += f"; trained in mixed precision ({settings.precision.value})"
    return text


def _radiomics_text(recipe: RadiomicsRecipe, target: Target | None) -> str:
    """What a radiomics model of ``recipe`` for ``target`` sees and how it was chosen, for its
    card."""
    solid = " and of its solid part" if recipe.settings.solid_part else ""
    features = f"IBSI radiomics features of the CT tumour region{solid}"
    search = recipe.search
    if search is None:
        return f"{features} (tuned logistic regression)"
    harmonised = "harmonised per center by ComBat, " if search.harmonise else ""
    grid = search_candidates(search)
    members = (
        f"every classifier of a model grid (up to {grid})"
        if search.ensemble_size >= grid
        else f"the best {search.ensemble_size} classifiers of a model search by inner "
        "cross-validation"
    )
    classes = (
        ", fitted on the four genotype classes (their probability of KIT exon 11)"
        if target is Target.KIT11 and search.genotype_classes
        else ""
    )
    return (
        f"{features}, {harmonised}with site, tumour size, age and sex (an ensemble of "
        f"{members}{classes})"
    )


def _folds_text(folds: dict[str, Any]) -> str:
    """How the version's folds were made, for its card."""
    scheme = Scheme(folds["scheme"])
    if scheme is Scheme.LOCO:
        text = "one per center (every center tested by a model trained on the others)"
    else:
        what = "a hold-out quarter" if scheme is Scheme.HOLDOUT else f"{len(folds['names'])} folds"
        text = (
            f"{what}, dealt within each class in the order of sha256(seed {folds['seed']}, "
            "pseudonym): the same patients get the same folds in this data folder"
        )
    earlier = folds.get("from")
    if earlier:
        text += (
            f"; taken from {earlier}: {folds['kept']} patients keep its folds, "
            f"{folds['dealt']} not in it were dealt by hash"
        )
    return text + "."


def _auc_text(row: dict[str, Any]) -> str:
    if row["auc_ci_lower"] is None:
        return f"{row['auc']:.2f} (CI not estimable: under 5 of a class)"
    return f"{row['auc']:.2f} ({row['auc_ci_lower']:.2f}–{row['auc_ci_upper']:.2f})"


def train(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    request: TrainRequest,
    progress: Progress | None = None,
    device: str = "auto",
    nproc: int = 1,
    loader_workers: int = 0,
) -> ModelVersion:
    """Cross-validate, fit, save and register; returns the new model version (flushed).

    ``nproc``: processes the deep model's every fit is spread over (distributed data
    parallel); the rest runs in this process. ``loader_workers``: processes reading the deep
    model's batches ahead of each training step.

    A name that is taken is refused before any training (and again at registration, in case
    another run took it meanwhile).
    """
    ensure_name_free(session, request.default_name())
    learner = make_learner(
        request, data_dir, progress, device=device, nproc=nproc, loader_workers=loader_workers
    )
    if (deep_learner := _deep(learner)) is not None:  # before any crop is read
        from gistcad.neural.fitting import check_precision
        from gistcad.neural.network import pick_device

        check_precision(deep_learner.settings.precision, pick_device(device))
    table = modelling_table(session, scope)
    if learner.kind is not ModelKind.CLINICAL:
        table = table[table["mask_path"].notna()].reset_index(drop=True)
    deep: ModelRiskScores | None = None
    if request.deep_model is not None:
        deep = deep_risk_scores(session, scope, request.deep_model)
        table = with_deep_risk_score(table, deep)
        request = dataclasses.replace(request, deep_model=deep.name)
    _require_labels(table, request)  # before any feature is computed
    earlier_name, earlier = (
        earlier_folds(session, scope, request.folds_from) if request.folds_from else (None, None)
    )
    undescribed: list[str] = []
    with _executor(learner, len(table)) as executor:
        if _reads_images(learner):
            # every patient's features (crops) once, cached; a tumour without is left out
            described = learner.prepare(table, executor)
            undescribed = sorted(set(table["pseudonym"]) - set(described["pseudonym"]))
            table = described
        labels, known = _require_labels(table, request)  # again, without the left out
        keys = [str(p) for p in table["pseudonym"]]
        plan = plan_folds(
            labels,
            keys,
            table["center"].to_numpy(dtype=object),
            request.scheme,
            seed=request.seed,
            earlier=earlier,
        )
        oof = out_of_fold(
            table,
            labels,
            request.target.classes,
            request.scheme,
            FoldFit(learner if executor is None else task_learner(learner), table, labels),
            seed=request.seed,
            progress=progress,
            plan=plan,
            executor=executor,
        )
    if request.target.is_survival or "risk_score" in oof:
        # the schemes a risk score (or the deep model's risk head) is measured against
        oof = oof.merge(reference_scores(table), on="patient_id", how="left")
    evaluation = evaluate(oof, request.target, seed=request.seed)
    if progress:
        progress("final model on all patients")
    fitted = learner.fit(table, labels, known)
    name = request.default_name()
    path, sha = learner.save(fitted, model_dir(data_dir, name))
    metrics = {
        "evaluation": evaluation.to_dict(),
        "oof": json.loads(oof.to_json(orient="records")),
        "n_patients": int(known.size),
        "training_patients": [int(p) for p in table["patient_id"].iloc[known]],
        "folds": {**plan.to_dict(keys), "from": earlier_name},
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if undescribed:
        metrics["undescribed_patients"] = [str(p) for p in undescribed]
    deep_learner = _deep(learner)
    harmoniser = None if deep_learner is None else deep_learner.harmoniser_of(fitted)
    if harmoniser is not None:
        metrics["harmonisation"] = harmoniser.summary()
    if deep is not None:
        sources = table["deep_risk_source"].iloc[known].value_counts()
        metrics["deep_model"] = {
            "model_version_id": deep.model_version_id,
            "name": deep.name,
            **{str(source): int(n) for source, n in sources.items()},
        }
    metrics["card"] = model_card(
        request,
        table.iloc[known],
        metrics,
        dl_settings=None if deep_learner is None else deep_learner.settings,
        radiomics=learner.recipe if isinstance(learner, RadiomicsLearner) else None,
    )
    version = ModelVersion(
        name=name,
        kind=request.kind,
        target=request.target.value,
        parameters={
            **request.to_parameters(),
            "classes": list(request.target.classes),
            **({} if deep_learner is None else {"dl_settings": deep_learner.settings.to_dict()}),
            **(
                {"radiomics_recipe": learner.recipe.to_dict()}
                if isinstance(learner, RadiomicsLearner)
                else {}
            ),
            **({} if deep is None else {"deep_model_version_id": deep.model_version_id}),
        },
        training_fingerprint=fingerprint(table.iloc[known], labels[known]),
        metrics=metrics,
        weights_path=str(path.relative_to(data_dir)),
        weights_sha256=sha,
    )
    if evaluation.tables:
        pooled = evaluation.tables[next(iter(evaluation.tables))].set_index("center").loc[POOLED]
        logger.info("trained %s: pooled AUC %.3f", name, pooled["auc"])
    else:
        logger.info("trained %s: pooled C %.3f", name, evaluation.concordance.get(POOLED))
    return add_model_version(session, version)


def _require_labels(table: pd.DataFrame, request: TrainRequest) -> tuple[IntArray, IntArray]:
    """Each row's label of ``request.target`` (-1: unknown) and the rows with one.

    Raises
    ------
    ValidationError
        Fewer than 10 rows with a known label.
    """
    labels = labels_for(table, request.target)
    known = np.flatnonzero(labels >= 0)
    if known.size < 10:
        raise ValidationError(
            f"only {known.size} patients have a known {request.target.value} label and a CT; "
            "import more data before training"
        )
    return labels, known


def left_out_why(kind: ModelKind) -> str:
    """Why a model of ``kind`` leaves a patient out of a whole-cohort run (the words of its
    card and of its prediction runs)."""
    if kind is ModelKind.DL:
        return "whose tumour outline covers no voxel of the CT"
    return "whose tumour outline has no voxel in the range radiomics describes, or none at all"


@dataclasses.dataclass(frozen=True)
class PredictionRun:
    """What :func:`predict` did: the predictions written, and the patients it left out by
    why (a run over the whole cohort leaves out the patients the model cannot read; named
    ones are refused instead)."""

    written: int
    left_out: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)

    def text(self, by: str | None = None) -> str:
        """ "46 predictions written by NAME (1 patient(s) left out, whose …: P-007)"."""
        return f"{self.written} predictions written" + (f" by {by}" if by else "") + self.note()

    def note(self) -> str:
        """The left out patients in brackets, after a space; "" when there are none."""
        if not self.left_out:
            return ""
        parts = []
        for why, who in self.left_out.items():
            shown = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
            parts.append(f"{len(who)} patient(s) left out, {why}: {shown}")
        return f" ({'; '.join(parts)})"


def predict(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    model_version_id: int,
    pseudonyms: list[str] | None = None,
    progress: Progress | None = None,
    device: str = "auto",
    centers: Sequence[str] | None = None,
) -> PredictionRun:
    """Predict the patients in scope (all, those of ``centers``, or ``pseudonyms``) on
    ``device``; returns the rows written and the patients left out. Patients the model cannot
    read are refused when named, else left out (all, or a center's).

    ``progress`` is told "predicted done/total" as patients are predicted, in chunks of
    :data:`PREDICT_CHUNK` (deep model) or :data:`TASK_CHUNK` (each patient's prediction does
    not depend on the others), on a cluster for many patients (:mod:`gistcad.cluster`).
    """
    version = get_model_version(session, model_version_id)
    request = request_of(version)
    learner = make_learner(
        request,
        data_dir,
        dl_settings=dl_settings_of(version),
        device=device,
        radiomics=radiomics_recipe_of(version),
    )
    if not version.weights_path or not version.weights_sha256:
        raise ValidationError(
            f"model version {version.name!r} has no saved model file; train it with "
            "'gistcad train' before predicting"
        )
    fitted = learner.load(data_dir / version.weights_path, version.weights_sha256)
    table = modelling_table(session, scope)
    if learner.kind is not ModelKind.CLINICAL:
        table = table[table["mask_path"].notna()].reset_index(drop=True)
    table = _selected(table, centers, pseudonyms)
    left: dict[str, list[str]] = {}
    if request.deep_model is not None:
        before = table
        table = _with_deep_prediction(
            session, scope, table, request.deep_model, named=bool(pseudonyms)
        )
        if missing := _pseudonyms_not_in(before, table):
            left[f"without a risk score of deep model {request.deep_model}, an input"] = missing
    asked = table
    with _executor(learner, len(table)) as executor:
        if _reads_images(learner):
            # every patient's features (crops) once, then the chunks read them; a named
            # patient whose tumour has none is refused, others are left out
            table = learner.prepare(table, executor, progress, named=bool(pseudonyms))
        scores = _predict_in_chunks(learner, fitted, table, progress, executor)
    # a patient left out has no prediction of this version now: an earlier one (of an
    # earlier outline) no longer holds
    left_out = set(asked["patient_id"].astype(int)) - set(table["patient_id"].astype(int))
    classes = request.target.classes
    rows = [
        Prediction(
            patient_id=int(row.patient_id),
            series_id=int(row.series_id),
            probabilities={c: round(float(p), 6) for c, p in zip(classes, probs, strict=True)},
            predicted_class=classes[int(np.argmax(probs))],
            risk_score=None if scores.risk_score is None else float(scores.risk_score[i]),
        )
        for i, (row, probs) in enumerate(
            zip(table.itertuples(index=False), scores.probabilities, strict=True)
        )
    ]
    written = replace_predictions(session, version, rows, stale=left_out)
    if (deep_learner := _deep(learner)) is not None:
        save_attention_maps(deep_learner, fitted, table, scores, data_dir, version.id)
    if unreadable := _pseudonyms_not_in(asked, table):
        left[left_out_why(request.kind)] = unreadable
    return PredictionRun(written, left)


def _selected(
    table: pd.DataFrame, centers: Sequence[str] | None, pseudonyms: Sequence[str] | None
) -> pd.DataFrame:
    """The rows of ``table`` of ``centers`` (None: all) named in ``pseudonyms`` (None: all).

    Raises
    ------
    ValidationError
        Naming a center or pseudonym without a row, or when no row is left.
    """
    if centers:
        unknown = sorted(set(centers) - set(table["center"]))
        if unknown:
            raise ValidationError(
                f"no CT-imaged patient in your scope at {', '.join(unknown)}: check the "
                "center's name (the Cohort explorer and 'gistcad cohort' list the centers)"
            )
        table = table[table["center"].isin(centers)].reset_index(drop=True)
    if pseudonyms:
        missing = sorted(set(pseudonyms) - set(table["pseudonym"]))
        if missing:
            raise ValidationError(f"no CT-imaged patient in your scope called {', '.join(missing)}")
        table = table[table["pseudonym"].isin(pseudonyms)].reset_index(drop=True)
    if table.empty:
        raise ValidationError("no patient to predict: import CT series first")
    return table


def _pseudonyms_not_in(asked: pd.DataFrame, kept: pd.DataFrame) -> list[str]:
    return sorted(set(asked["pseudonym"].astype(str)) - set(kept["pseudonym"].astype(str)))


def with_deep_risk_score(table: pd.DataFrame, deep: ModelRiskScores) -> pd.DataFrame:
    """The rows of ``table`` with a risk score in ``deep``, with :data:`DEEP_RISK_COLUMN` and
    ``deep_risk_source`` added; the others are left out (logged)."""
    scores = deep.scores.set_index("patient_id")
    scored = table["patient_id"].isin(scores.index)
    if not scored.all():
        logger.warning(
            "%d patient(s) without a risk score of deep model %s left out of training",
            int((~scored).sum()),
            deep.name,
        )
    kept = table[scored].reset_index(drop=True)
    kept[DEEP_RISK_COLUMN] = kept["patient_id"].map(scores["risk_score"]).astype(float)
    kept["deep_risk_source"] = kept["patient_id"].map(scores["source"])
    return kept


def _with_deep_prediction(
    session: Session, scope: AccessScope, table: pd.DataFrame, deep_model: str, *, named: bool
) -> pd.DataFrame:
    """``table`` with each patient's stored risk score of ``deep_model`` (its final model).

    Patients the deep model has not predicted are refused when ``named`` (the caller chose
    them), else left out with a warning.

    Raises
    ------
    ValidationError
        Naming the patients the deep model has not predicted (when ``named``, or when it has
        predicted none of them).
    """
    deep = deep_final_risk_scores(session, scope, deep_model)
    scores = deep.scores.set_index("patient_id")["risk_score"]
    scored = table["patient_id"].isin(scores.index)
    missing = sorted(table.loc[~scored, "pseudonym"].astype(str))
    if missing and not named and scored.any():
        logger.warning(
            "%d patient(s) not predicted: deep model %s, an input, has not predicted them",
            len(missing),
            deep.name,
        )
        table = table[scored].reset_index(drop=True)
    elif missing:
        shown = ", ".join(missing[:5]) + (" and others" if len(missing) > 5 else "")
        raise ValidationError(
            f"this imaging risk score takes deep model {deep.name}'s risk score as an input, "
            f"and {len(missing)} patient(s) have none ({shown}): run the deep model on this "
            f"patient first (gistcad predict --model {deep.name} --patient PSEUDONYM)"
        )
    return table.assign(**{DEEP_RISK_COLUMN: table["patient_id"].map(scores).astype(float)})


def train_and_register(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    request: TrainRequest,
    progress: Progress | None = None,
    device: str = "auto",
    job_id: int | None = None,
    nproc: int = 1,
    loader_workers: int = 0,
) -> ModelVersion:
    """Train and register a model version (:func:`train`) and audit it: the one "train" row
    of the audit trail, committed with the version by the caller's transaction.

    ``job_id``: the background job that runs it, recorded in the audit row.
    """
    version = train(
        session,
        scope,
        data_dir,
        request,
        progress,
        device=device,
        nproc=nproc,
        loader_workers=loader_workers,
    )
    detail: dict[str, Any] = {"name": version.name, "patients": version.metrics.get("n_patients")}
    if job_id is not None:
        detail["job"] = job_id
    audit.model_event(session, scope.user, "train", version.id, **detail)
    return version


def predict_and_record(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    model_version_id: int,
    pseudonyms: list[str] | None = None,
    progress: Progress | None = None,
    device: str = "auto",
    job_id: int | None = None,
    centers: Sequence[str] | None = None,
) -> PredictionRun:
    """Predict the patients in scope, all, those of ``centers`` or ``pseudonyms``
    (:func:`predict`), and audit it: the one "predict" row of the audit trail. Returns what
    :func:`predict` did."""
    run = predict(
        session,
        scope,
        data_dir,
        model_version_id,
        pseudonyms,
        progress,
        device=device,
        centers=centers,
    )
    selection: Any = pseudonyms or ({"centers": list(centers)} if centers else "all")
    detail: dict[str, Any] = {"patients": run.written, "selection": selection}
    if run.left_out:
        detail["left_out"] = sum(len(who) for who in run.left_out.values())
    if job_id is not None:
        detail["job"] = job_id
    audit.model_event(session, scope.user, "predict", model_version_id, **detail)
    return run


def earlier_folds(session: Session, scope: AccessScope, reference: str) -> tuple[str, EarlierFolds]:
    """The name and stored folds of the version ``reference`` (id or name), to train another
    model on the same folds.

    Raises
    ------
    NotFoundError
        When there is no such version.
    ValidationError
        When the version was registered before folds were stored with a version.
    """
    model_id, name = find_model_version(session, reference, scope)
    stored = (get_model_version(session, model_id).metrics or {}).get("folds")
    if stored is None:
        raise ValidationError(
            f"model version {name!r} was trained before folds were stored with a model, so "
            "its folds cannot be reused: train without taking its folds, or retrain it first"
        )
    return name, EarlierFolds.from_dict(stored)


def request_of(version: ModelVersion) -> TrainRequest:
    """The request a registered version was trained with (its kind, target and name are
    the version's own; older versions stored fewer parameters: defaults fill in, but a
    radiomics version's pipeline is its recipe's, :func:`radiomics_recipe_of`)."""
    stored = {k: v for k, v in (version.parameters or {}).items() if k != "name"}
    recipe = radiomics_recipe_of(version)
    if recipe is not None:
        stored["radiomics"] = "search" if recipe.search is not None else "logistic"
    return TrainRequest.from_parameters(
        {**stored, "kind": version.kind, "target": version.target, "name": version.name}
    )


#: patients per prediction step of the deep model (a batch on its device)
PREDICT_CHUNK = 16
#: patients per prediction task of the other models: small, so that a cluster's workers share
#: the work evenly (each of their patients' radiomics features takes seconds); the same chunks
#: in this process, so both give the same numbers
TASK_CHUNK = 4


def _predict_in_chunks(
    learner: Learner,
    fitted: Any,
    table: pd.DataFrame,
    progress: Progress | None,
    executor: Executor | None = None,
) -> Scores:
    """The chunks' predictions, each chunk a pure task (:class:`PredictChunk`) on
    ``executor`` (:func:`_executor`: a cluster for many patients; None: in this process); the
    caller writes the rows, once, whichever ran them, and has computed the radiomics
    features (one task per patient: one large tumour does not hold up three others) or cut
    the deep model's crops first (the learner's ``prepare``)."""
    size = PREDICT_CHUNK if learner.kind is ModelKind.DL else TASK_CHUNK
    chunks = [
        table.iloc[start : start + size].reset_index(drop=True)
        for start in range(0, len(table), size)
    ]
    task = PredictChunk(learner if executor is None else task_learner(learner), fitted)
    sizes = [len(chunk) for chunk in chunks]
    parts = map_cases(task, chunks, executor, progress=progress, what="predicted", sizes=sizes)
    risks = [p.risk_score for p in parts if p.risk_score is not None]
    return Scores(
        probabilities=np.concatenate([p.probabilities for p in parts]),
        risk_score=np.concatenate(risks) if len(risks) == len(parts) else None,
    )


def _executor(learner: Learner, n_cases: int) -> AbstractContextManager[Executor | None]:
    """Where a learner's folds and predictions run (:func:`gistcad.cluster.cluster_executor`).

    The radiomics model's go by the rule (seconds of feature extraction per patient, a tuning
    grid per fold); the clinical model's stay here (milliseconds: a cluster's start would cost
    more than it saves), and so do the deep model's (on its device; it parallelises itself).
    """
    if learner.kind is not ModelKind.RADIOMICS:
        return nullcontext(None)
    return cluster_executor(n_cases)


def _deep(learner: Learner) -> DlLearner | None:
    """``learner`` if it is the deep model's, else None: asked by kind, so that clinical and
    radiomics runs (and the jobs and commands that start them) never import torch."""
    if learner.kind is not ModelKind.DL:
        return None
    from gistcad.modelling.dl_model import DlLearner

    if not isinstance(learner, DlLearner):
        raise TypeError(f"a learner of kind dl that is not the deep model's: {learner!r}")
    return learner


def _reads_images(
    learner: Learner,
) -> TypeGuard[RadiomicsLearner | RiskScoreLearner | DlLearner]:
    """Whether ``learner`` reads the CTs (features or crops, prepared once per patient)."""
    return isinstance(learner, RadiomicsLearner | RiskScoreLearner) or _deep(learner) is not None


def dl_settings_of(version: ModelVersion) -> DlSettings | None:
    """The deep model settings a version was trained with (None for other kinds).

    Versions registered before the settings were stored are EfficientNet-B0 models without
    covariates (:meth:`DlSettings.before_covariates`).
    """
    if version.kind != ModelKind.DL:
        return None
    stored = version.parameters.get("dl_settings")
    from gistcad.modelling.dl_model import DlSettings

    if stored is None:
        return DlSettings.before_covariates(int(version.parameters.get("epochs") or 12))
    return DlSettings.from_stored(stored)


def radiomics_recipe_of(version: ModelVersion) -> RadiomicsRecipe | None:
    """The features and pipeline a radiomics version was trained with (None for other kinds
    and for the imaging risk score, which has its own).

    Versions registered before the recipe was stored were tuned logistic regressions on the
    whole tumour's features (:data:`~gistcad.modelling.radiomics_model.LOGISTIC`).
    """
    if version.kind != ModelKind.RADIOMICS or Target(version.target).is_survival:
        return None
    stored = version.parameters.get("radiomics_recipe")
    return LOGISTIC if stored is None else RadiomicsRecipe.from_stored(stored)


def save_attention_maps(
    learner: DlLearner,
    fitted: Any,
    table: pd.DataFrame,
    scores: Any,
    data_dir: Path,
    model_version_id: int,
) -> None:
    """Grad-CAM of the predicted class, in crop space with the crop's affine, per patient."""
    from gistcad.neural.attention_maps import write_attention_map
    from gistcad.neural.network import GENOTYPE_ORDER, KIT11_INDEX, RESPONSE_INDEX

    for row, probs in zip(table.itertuples(index=False), scores.probabilities, strict=True):
        # genotype: the predicted class; KIT exon 11 vs rest: the network's KIT exon 11 output;
        # a response target: the response head
        cls = (
            RESPONSE_INDEX
            if learner.response
            else int(np.argmax(probs))
            if learner.n_classes == len(GENOTYPE_ORDER)
            else KIT11_INDEX
        )
        cam, crop = learner.attention(fitted, row, cls)
        path = DataLayout(data_dir).attention_map(model_version_id, str(row.pseudonym))
        write_attention_map(path, cam, crop)
