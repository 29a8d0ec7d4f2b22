"""Bulk seeding of a large synthetic cohort, without images, for scale benches and tests.

:func:`seed_cohort` writes ``n`` patients spread over 12 centers, each with a primary tumour,
a treatment row, RFS and OS outcomes and one model version's prediction, by bulk inserts
(SQLAlchemy Core ``executemany``; on PostgreSQL the rows travel by ``COPY``). The values are
drawn from a seeded generator, so the same ``n`` and ``seed`` give the same cohort; times are
rounded to 0.1 month so that the survival statistics meet tied times, as real follow-up does.

The cohort is plausible, not realistic: it is for measuring how reads and statistics scale,
never for a clinical result. It writes into an empty or non-empty database alike (ids
continue after the largest stored ones), and never touches images or the data folder.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text

from gistcad.domain import GenotypeClass, GenotypeDetail, MitosisUnit, ModelKind, Sex, Site, Split
from gistcad.errors import ValidationError
from gistcad.store.models import (
    PROBABILITY_COLUMNS,
    Base,
    Center,
    ModelVersion,
    Outcome,
    Patient,
    Prediction,
    Treatment,
    Tumour,
)

logger = logging.getLogger(__name__)

N_CENTERS = 12
#: rows sent per statement outside PostgreSQL
CHUNK = 10_000
SEED_MODEL_NAME = "scale-seed-genotype"
_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

_SITES = (
    (Site.STOMACH, 0.6),
    (Site.JEJUNUM_ILEUM, 0.25),
    (Site.DUODENUM, 0.05),
    (Site.RECTUM, 0.04),
    (Site.COLON, 0.01),
    (Site.OESOPHAGUS, 0.01),
    (Site.OTHER, 0.04),
)
_GENOTYPES = (
    (GenotypeDetail.KIT11_DEL_557_558, 0.22),
    (GenotypeDetail.KIT11_DEL_OTHER, 0.15),
    (GenotypeDetail.KIT11_SUBSTITUTION, 0.12),
    (GenotypeDetail.KIT11_DUPLICATION, 0.04),
    (GenotypeDetail.KIT11_UNSPECIFIED, 0.05),
    (GenotypeDetail.KIT9, 0.09),
    (GenotypeDetail.KIT13_17, 0.02),
    (GenotypeDetail.PDGFRA_D842V, 0.07),
    (GenotypeDetail.PDGFRA_OTHER, 0.04),
    (GenotypeDetail.WT_SDH_DEFICIENT, 0.03),
    (GenotypeDetail.WT_NF1, 0.02),
    (GenotypeDetail.WT_OTHER, 0.05),
    (GenotypeDetail.UNKNOWN, 0.10),
)


@dataclass(frozen=True)
class SeededCohort:
    """What :func:`seed_cohort` wrote.

    Attributes
    ----------
    patients
        Patients written (each with a tumour, treatment, outcome and prediction).
    centers
        Center names used (created when missing).
    model_version_id, model_name
        The model version whose predictions were written.
    seconds
        Wall time of the writes.
    """

    patients: int
    centers: tuple[str, ...]
    model_version_id: int
    model_name: str
    seconds: float


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _choice(rng: np.random.Generator, table: Sequence[tuple[Any, float]], n: int) -> np.ndarray:
    values = np.array([str(v) for v, _ in table], dtype=object)
    weights = np.array([w for _, w in table], dtype=float)
    return rng.choice(values, size=n, p=weights / weights.sum())


def _genotype_class(detail: str) -> str:
    if detail == GenotypeDetail.UNKNOWN:
        return GenotypeClass.WT_OTHER.value
    group = GenotypeDetail(detail).group.value
    return {"kit11": "kit11", "kit9": "kit9", "pdgfra": "pdgfra"}.get(group, "wt_other")


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


def _null(values: np.ndarray, missing: np.ndarray) -> list[Any]:
    out: list[Any] = values.tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def _write(conn: Connection, table: Table, columns: dict[str, list[Any]]) -> None:
    names = list(columns)
    n = len(columns[names[0]])
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in zip(*(columns[c] for c in names), strict=True):
                copy.write_row(row)
        return
    for start in range(0, n, CHUNK):
        rows = [{c: columns[c][i] for c in names} for i in range(start, min(n, start + CHUNK))]
        conn.execute(insert(table), rows)


def _has_probability_columns(conn: Connection) -> bool:
    present = {c["name"] for c in inspect(conn).get_columns(_table(Prediction).name)}
    return set(PROBABILITY_COLUMNS.values()) <= present


def _reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """Move PostgreSQL's id sequences past the explicit ids written."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
            )
        )


def seed_cohort(engine: Engine, n: int, *, seed: int = 0) -> SeededCohort:
    """Write ``n`` synthetic patients (no images) with tumour, treatment, outcome, prediction.

    Parameters
    ----------
    engine
        A migrated database (SQLite or PostgreSQL).
    n
        Patients to write, at least 1.
    seed
        Seed of the generator; the same ``n`` and ``seed`` write the same values.

    Returns
    -------
    SeededCohort

    Raises
    ------
    ValidationError
        For ``n < 1``.
    """
    if n < 1:
        raise ValidationError(f"seed at least one patient; got {n}")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    center_names = tuple(f"Scale center {i + 1:02d}" for i in range(N_CENTERS))
    with engine.begin() as conn:
        centers = _table(Center)
        known = dict(
            conn.execute(
                select(centers.c.name, centers.c.id).where(centers.c.name.in_(center_names))
            ).all()
        )
        missing = [name for name in center_names if name not in known]
        if missing:
            conn.execute(
                insert(centers), [{"name": name, "country": "Synthetic"} for name in missing]
            )
            known = dict(
                conn.execute(
                    select(centers.c.name, centers.c.id).where(centers.c.name.in_(center_names))
                ).all()
            )
        center_ids = np.array([known[name] for name in center_names])
        models = _table(ModelVersion)
        model_id = conn.scalar(select(models.c.id).where(models.c.name == SEED_MODEL_NAME))
        if model_id is None:
            model_id = conn.scalar(
                insert(models)
                .values(
                    name=SEED_MODEL_NAME,
                    kind=ModelKind.CLINICAL,
                    target="genotype",
                    parameters={"classes": [c.value for c in GenotypeClass]},
                    metrics={},
                )
                .returning(models.c.id)
            )
        if model_id is None:
            raise ValidationError(f"could not register the model version {SEED_MODEL_NAME}")
        first = _next_id(conn, _table(Patient))
        ids = np.arange(first, first + n)
        center_index = rng.integers(0, N_CENTERS, n)
        sex = np.where(rng.random(n) < 0.5, Sex.MALE.value, Sex.FEMALE.value).astype(object)
        age = np.clip(np.round(rng.normal(62, 12, n), 1), 18, 95)
        split = _choice(rng, ((Split.TRAIN, 0.7), (Split.VALIDATION, 0.15), (Split.TEST, 0.15)), n)
        _write(
            conn,
            _table(Patient),
            {
                "id": ids.tolist(),
                "pseudonym": [
                    f"SC{c + 1:02d}-{i:07d}" for c, i in zip(center_index, ids, strict=True)
                ],
                "center_id": center_ids[center_index].tolist(),
                "sex": _null(sex, rng.random(n) < 0.01),
                "age_at_diagnosis": _null(age, rng.random(n) < 0.02),
                "split": split.tolist(),
                "fold": rng.integers(0, 5, n).tolist(),
            },
        )
        site = _choice(rng, _SITES, n)
        size = np.round(np.exp(rng.normal(1.6, 0.6, n)), 1) + 0.1
        unit = np.where(
            rng.random(n) < 0.9, MitosisUnit.PER_50_HPF.value, MitosisUnit.PER_5_MM2.value
        ).astype(object)
        mitoses = rng.poisson(np.exp(rng.normal(1.0, 1.0, n))).astype(float)
        no_mitoses = rng.random(n) < 0.05
        genotype = _choice(rng, _GENOTYPES, n)
        _write(
            conn,
            _table(Tumour),
            {
                "id": (ids - first + _next_id(conn, _table(Tumour))).tolist(),
                "patient_id": ids.tolist(),
                "lesion": [1] * n,
                "site": _null(site, rng.random(n) < 0.01),
                "size_cm": _null(size, rng.random(n) < 0.03),
                "mitotic_count": _null(mitoses, no_mitoses),
                "mitotic_unit": _null(unit, no_mitoses),
                "rupture": (rng.random(n) < 0.05).astype(int).tolist(),
                "genotype_detail": genotype.tolist(),
            },
        )
        adjuvant = (rng.random(n) < 0.4).astype(int)
        _write(
            conn,
            _table(Treatment),
            {
                "id": (ids - first + _next_id(conn, _table(Treatment))).tolist(),
                "patient_id": ids.tolist(),
                "neoadjuvant_imatinib": (rng.random(n) < 0.1).astype(int).tolist(),
                "adjuvant_imatinib": adjuvant.tolist(),
            },
        )
        hazard = 0.01 * np.exp(
            0.4 * np.log(size) + 0.3 * (site != Site.STOMACH.value) - 0.4 * adjuvant
        )
        rfs_true = rng.exponential(1.0 / hazard)
        censor = rng.uniform(6, 150, n)
        rfs = np.round(np.minimum(rfs_true, censor), 1)
        rfs_event = (rfs_true <= censor).astype(int)
        os_true = rfs_true + rng.exponential(60.0, n)
        os_months = np.round(np.minimum(os_true, censor), 1)
        os_event = (os_true <= censor).astype(int)
        no_outcome = rng.random(n) < 0.02
        _write(
            conn,
            _table(Outcome),
            {
                "id": (ids - first + _next_id(conn, _table(Outcome))).tolist(),
                "patient_id": ids.tolist(),
                "rfs_months": _null(rfs, no_outcome),
                "rfs_event": _null(rfs_event, no_outcome),
                "os_months": _null(os_months, no_outcome),
                "os_event": _null(os_event, no_outcome),
            },
        )
        classes = [c.value for c in GenotypeClass]
        truth = np.array([classes.index(_genotype_class(g)) for g in genotype])
        concentration = np.ones((n, len(classes)))
        concentration[np.arange(n), truth] += 4.0
        gamma = rng.gamma(concentration)
        probabilities = np.round(gamma / gamma.sum(axis=1, keepdims=True), 4)
        probabilities[:, -1] = 1.0 - probabilities[:, :-1].sum(axis=1)
        as_json = conn.dialect.name == "postgresql"
        rows = [dict(zip(classes, p, strict=True)) for p in probabilities.tolist()]
        # the copies the ORM fills on write (Prediction.probabilities), where the schema has
        # them (not before revision 0007, which back-fills them)
        copies = (
            {PROBABILITY_COLUMNS[c]: probabilities[:, i].tolist() for i, c in enumerate(classes)}
            if _has_probability_columns(conn)
            else {}
        )
        _write(
            conn,
            _table(Prediction),
            {
                "id": (ids - first + _next_id(conn, _table(Prediction))).tolist(),
                "patient_id": ids.tolist(),
                "model_version_id": [int(model_id)] * n,
                "probabilities": [json.dumps(r) for r in rows] if as_json else rows,
                "predicted_class": [classes[i] for i in probabilities.argmax(axis=1)],
                "risk_score": probabilities[:, 0].tolist(),
                "created_at": [_NOW] * n,
                **copies,
            },
        )
        _reset_sequences(
            conn,
            [
                _table(Patient),
                _table(Tumour),
                _table(Treatment),
                _table(Outcome),
                _table(Prediction),
            ],
        )
    if engine.dialect.name == "postgresql":  # planner statistics for the new rows
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE patients, tumours, treatments, outcomes, predictions")
            )
    seconds = time.perf_counter() - started
    logger.info("seeded %d patients in %.1f s", n, seconds)
    return SeededCohort(
        patients=n,
        centers=center_names,
        model_version_id=int(model_id),
        model_name=SEED_MODEL_NAME,
        seconds=seconds,
    )
