"""Predict a case with the current model versions: genotype, risk score, and response and the
imaging risk score for survival where such models are registered.

The current version of a question is the newest registered version that answers it: for the
genotype a four-class ``genotype`` model, else a ``kit11`` model; for the risk score a
``risk`` model; for the response a ``choi_pr_fu1`` model, else a ``progression_6m`` model;
for the imaging risk score of recurrence-free survival an ``rfs`` model.
This is what a tumour board's "Run prediction" asks for: every answer the registered models
can give about one new patient, each recorded with the version that gave it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.orm import Session

from gistcad.errors import NotFoundError
from gistcad.modelling.targets import Target
from gistcad.progress import Progress
from gistcad.store.model_queries import list_model_versions
from gistcad.store.scope import AccessScope

if TYPE_CHECKING:
    from gistcad.modelling.trainer import PredictionRun

logger = logging.getLogger(__name__)

#: The questions a case prediction answers, each with its targets in order of preference.
QUESTIONS: tuple[tuple[str, tuple[Target, ...]], ...] = (
    ("genotype", (Target.GENOTYPE, Target.KIT11)),
    ("risk score", (Target.RISK,)),
    ("response", (Target.CHOI_PR_FU1, Target.PROGRESSION_6M)),
    ("imaging risk score", (Target.RFS,)),
)


@dataclass(frozen=True)
class CurrentVersion:
    """The version that answers one question: its id, name and target."""

    question: str
    model_version_id: int
    name: str
    target: str


def current_versions(versions: pd.DataFrame) -> list[CurrentVersion]:
    """The current version of each question that some registered version answers.

    Parameters
    ----------
    versions
        Registered versions, newest first (:func:`~gistcad.store.model_queries.
        list_model_versions`: ``model_version_id``, ``name``, ``target``).

    Returns
    -------
    list of CurrentVersion
        In the order of :data:`QUESTIONS`; a question no version answers is left out.
    """
    chosen = []
    for question, targets in QUESTIONS:
        for target in targets:
            rows = versions[versions["target"] == target.value]
            if not rows.empty:
                row = rows.iloc[0]
                chosen.append(
                    CurrentVersion(question, int(row["model_version_id"]), str(row["name"]), target)
                )
                break
    return chosen


def predict_with_current_models(
    session: Session,
    scope: AccessScope,
    data_dir: Path,
    pseudonyms: list[str] | None,
    progress: Progress | None = None,
    *,
    device: str = "auto",
    job_id: int | None = None,
) -> list[tuple[CurrentVersion, PredictionRun]]:
    """Predict ``pseudonyms`` (None: every patient in scope) with each current version and
    record the predictions (one audited "predict" per version). Returns each version used
    with what it did (the predictions it wrote, the patients it left out).

    Raises
    ------
    NotFoundError
        When no version answers the genotype (the question a case prediction is for).
    """
    from gistcad.modelling.learners import UnreadablePatientError
    from gistcad.modelling.trainer import (  # scikit-learn: only when predicting
        PredictionRun,
        predict_and_record,
    )

    chosen = current_versions(list_model_versions(session))
    if not any(c.question == "genotype" for c in chosen):
        raise NotFoundError(
            "no genotype model is registered; train one (gistcad train --target genotype) "
            "before predicting a case"
        )
    if progress is not None:  # before any write: a job's progress rows need the write lock
        progress("predicting with " + ", ".join(f"{c.name} ({c.question})" for c in chosen))
    done = []
    for version in chosen:
        try:
            run = predict_and_record(
                session,
                scope,
                data_dir,
                version.model_version_id,
                pseudonyms,
                device=device,
                job_id=job_id,
            )
        except UnreadablePatientError as exc:
            if version.question == "genotype":
                raise
            # the survival score cannot read this tumour: the genotype still is answered
            logger.warning("%s (%s) not predicted: %s", version.question, version.name, exc)
            run = PredictionRun(0, {f"because {exc.why}": exc.pseudonyms})
        logger.info("%s: %s", version.question, run.text(version.name))
        done.append((version, run))
    return done
