"""While the demo models train in the background the dashboard answers: the home page counts
the ready ones with each one's progress, and the survival and performance pages name the
models still training instead of an error or an empty figure."""

from __future__ import annotations

import os
import socket

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.demo_models import queue_demo_models
from gistcad.store import AccessScope, session_scope
from gistcad.store.jobs import claim_job, update_job
from tests.app.conftest import APP, open_page
from tests.factories import add_center, add_patient

#: started a moment ago, 40 % done: the rest takes well under a minute at that rate
RADIOMICS_LINE = "demo-radiomics is training (fold 2/5 (fold 2)): 40%, less than a minute left"


def _demo_training(engine: Engine) -> None:
    """A cohort without models; the demo's radiomics model training, the others queued."""
    with Session(engine) as s:
        center = add_center(s, "Alpha")
        add_patient(s, center, "A-1", with_series=True)
        s.commit()
    states = queue_demo_models(engine, AccessScope.everything())
    job_id = states["demo-radiomics"].job_id
    assert job_id is not None
    with session_scope(engine) as session:
        worker = {"pid": os.getpid(), "host": socket.gethostname()}  # alive: not reaped
        claim_job(session, job_id, worker)
        update_job(session, job_id, progress=0.4, message="fold 2/5 (fold 2)")


def test_home_counts_ready_models_with_their_progress(app_db: Engine) -> None:
    _demo_training(app_db)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.subheader] == ["Demo models: 0 of 3 ready", "Centers"]
    bars = [e.proto for e in at.get("progress")]
    assert [(round(b.value), b.text) for b in bars] == [
        (0, "demo-clinical is queued: it trains after the demo models before it"),
        (40, RADIOMICS_LINE),
        (0, "demo-deep is queued: it trains after the demo models before it"),
    ]


def test_survival_and_performance_name_the_models_in_training(app_db: Engine) -> None:
    _demo_training(app_db)
    for page in ("views/survival.py", "views/performance.py"):
        at = open_page(page)
        assert not at.error, page
        lines = [i.value for i in at.info]
        assert [line.split(":")[0] for line in lines] == [
            "demo-clinical is queued",
            "demo-radiomics is training (fold 2/5 (fold 2))",
            "demo-deep is queued",
        ], page
        assert lines[1].startswith(f"{RADIOMICS_LINE}. "), page
    assert "No model is registered yet" not in " ".join(i.value for i in at.info)
