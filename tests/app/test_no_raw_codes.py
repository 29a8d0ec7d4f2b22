"""Contract: no stored code, raw column name or ``None`` reaches a user on any page.

Every page of the navigation is rendered with AppTest on a small cohort, with a clinical
genotype model trained on it (so the survival page's predicted-vs-true panels and the
performance page fill in). Every text a user reads is collected (titles, captions, markdown,
metrics, widget labels and options, table headers and cells, figure legends, titles, axis
labels and annotations) and scanned for the coded values of :mod:`gistcad.domain` whose
label differs from them (e.g. ``jejunum_ileum``, ``kit11_del_557_558``,
``wt_sdh_deficient``, ``joensuu2008``, ``per_50hpf``), for raw column names
(``median_ci_lower``) and for ``None``/``nan``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad import jobs
from gistcad.analysis.grouping import Grouping
from gistcad.display import code_labels
from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope
from tests.app.conftest import APP
from tests.factories import seed_cohort

#: codes that cannot be mistaken for English: with an underscore or a digit
CODES = sorted(code for code in code_labels() if re.search(r"[_0-9]", code))
#: a raw column or key name: lower-case words joined by underscores
RAW_NAME = re.compile(r"(?<![\w/.-])[a-z]+(?:_[a-z0-9]+)+(?![\w/.-])")
MISSING = re.compile(r"(?<![\w-])(None|nan|NaN|NaT)(?![\w-])")


def test_the_scan_knows_the_codes_the_issue_names() -> None:
    assert {
        "jejunum_ileum",
        "kit11_del_557_558",
        "wt_sdh_deficient",
        "joensuu2008",
        "per_50hpf",
    } <= set(CODES)
    assert RAW_NAME.search("median_ci_lower") and not RAW_NAME.search("/case?patient=P-001")


def _figure_texts(spec: dict[str, Any]) -> Iterator[str]:
    for trace in spec.get("data", []):
        if trace.get("showlegend") is not False and trace.get("name"):
            yield str(trace["name"])
        for key in ("text", "y"):
            values = trace.get(key)
            if isinstance(values, list) and values and isinstance(values[0], str):
                yield from (str(v) for v in values)
    layout = spec.get("layout", {})
    for key, value in layout.items():
        if key.startswith(("xaxis", "yaxis", "legend")) and isinstance(value, dict):
            title = value.get("title")
            yield str(title.get("text", "")) if isinstance(title, dict) else str(title or "")
            yield from (str(t) for t in value.get("ticktext") or [])
            yield from (str(t) for t in value.get("categoryarray") or [])
    title = layout.get("title")
    yield str(title.get("text", "")) if isinstance(title, dict) else str(title or "")
    for annotation in layout.get("annotations", []):
        yield str(annotation.get("text", ""))


def _cells(table: pd.DataFrame) -> Iterator[str]:
    yield from (str(c) for c in table.columns)
    if not isinstance(table.index, pd.RangeIndex):
        yield from (str(i) for i in table.index)
    for column in table.columns:
        for value in table[column]:
            if value is None or (isinstance(value, float) and math.isnan(value)):
                yield "None"  # a missing cell shows as None in the grid
            elif isinstance(value, str):
                yield value


def user_texts(at: AppTest) -> list[str]:
    """Every text of the rendered page a user reads (links' targets and keys left out)."""
    texts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code"):
        texts += [str(e.value) for e in at.get(kind)]
    for kind in ("info", "warning", "error", "success"):
        texts += [str(e.value) for e in at.get(kind)]
    texts += [f"{m.label} {m.value}" for m in at.get("metric")]
    for kind in ("selectbox", "multiselect", "radio", "select_slider"):
        for widget in at.get(kind):
            texts.append(str(widget.label))
            texts += [str(o) for o in widget.proto.options]
    for kind in ("text_input", "number_input", "slider", "toggle", "checkbox", "button"):
        texts += [str(w.label) for w in at.get(kind)]
    texts += [str(t.label) for t in at.get("tab")]
    texts += [str(e.proto.label) for e in at.get("expandable")]
    texts += [str(b.proto.label) for b in at.get("download_button")]
    for frame in at.dataframe:
        texts += list(_cells(frame.value))
    for chart in at.get("plotly_chart"):
        texts += list(_figure_texts(json.loads(chart.proto.spec)))
    return texts


def raw_codes(texts: list[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        visible = re.sub(r"\(/case\?[^)]*\)|https?://\S+", "", text)  # link targets
        found |= {code for code in CODES if re.search(rf"(?<![\w-]){code}(?![\w-])", visible)}
        found |= set(RAW_NAME.findall(visible))
        found |= {f"'{m}'" for m in MISSING.findall(visible)}
    return found


@pytest.fixture
def cohort(app_db: Engine, tmp_path: Path) -> Engine:
    with Session(app_db) as s:
        seed_cohort(s, n=30, with_series=True)
        train(
            s,
            AccessScope.everything(),
            tmp_path,
            TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="clinical-genotype"),
        )
        s.commit()
    return app_db


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["patient"] = "P-001"
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


PAGES = [
    "views/home.py",
    "views/cohort.py",
    "views/survival.py",
    "views/response.py",
    "views/admin.py",
    "views/performance.py",
    "views/case.py",
    "views/jobs.py",
    "views/biomarkers.py",
]


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_code_on_the_page(cohort: Engine, page: str) -> None:
    at = _open(page)
    texts = user_texts(at)
    assert len(texts) > 10, texts  # the page did render something to read
    assert not raw_codes(texts), raw_codes(texts)


@pytest.mark.parametrize(
    "grouping", [Grouping.RISK, Grouping.SITE, Grouping.SIZE, Grouping.PREDICTED]
)
def test_no_raw_code_on_any_survival_grouping(cohort: Engine, grouping: Grouping) -> None:
    at = _open("views/survival.py")
    at.selectbox(key="survival_by").set_value(grouping).run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart")
    at.multiselect(key="survival_adjust").set_value(["age", "site"]).run()
    assert not at.exception, at.exception
    texts = user_texts(at)
    assert not raw_codes(texts), raw_codes(texts)


def test_no_raw_code_in_the_job_list(cohort: Engine) -> None:
    """A queued training job's parameters read as words (kind, target, validation)."""
    job_id = jobs.submit(
        cohort,
        "train",
        {"kind": "dl", "target": "progression_6m", "scheme": "loco", "name": "deep-response"},
        AccessScope.everything(),
    )
    at = _open("views/jobs.py")
    shown = at.dataframe[0].value.set_index("Job")
    assert shown.loc[job_id, "Parameters"] == (
        "kind Deep learning (CT), target RECIST 1.1 progression by 6 months, "
        "scheme leave-one-center-out, name deep-response"
    )
    texts = user_texts(at)
    assert not raw_codes(texts), raw_codes(texts)
