"""Every figure is drawn by ``views.common.show_figure``: one toolbar, PNG or SVG export with a
file name that says which page and which figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, train
from gistcad.store import AccessScope
from tests.app.conftest import APP, ROOT
from tests.factories import seed_cohort


def test_pages_draw_figures_only_through_show_figure() -> None:
    direct = {
        f"views/{page.name}"
        for page in (ROOT / "views").glob("*.py")
        if page.name != "common.py" and re.search(r"\.plotly_chart\(", page.read_text())
    }
    assert not direct, f"pages that draw figures without show_figure: {sorted(direct)}"


def _configs(at: AppTest) -> dict[str, dict[str, object]]:
    found = {}
    for chart in at.get("plotly_chart"):
        options = json.loads(chart.proto.config)["toImageButtonOptions"]
        found[options["filename"]] = options
    return found


def test_the_camera_saves_png_or_svg_named_after_page_and_figure(app_db: Engine) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=30)
        s.commit()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/cohort.py")
    at.run()
    assert not at.exception, at.exception
    configs = _configs(at)
    assert set(configs) == {
        "gistcad_cohort_site",
        "gistcad_cohort_genotype",
        "gistcad_cohort_size",
        "gistcad_cohort_risk",
    }
    assert {c["format"] for c in configs.values()} == {"png"}
    assert {c["scale"] for c in configs.values()} == {3}
    at.radio(key="figure_format").set_value("svg").run()
    assert {c["format"] for c in _configs(at).values()} == {"svg"}
    at.switch_page("views/survival.py")
    at.run()
    assert not at.exception, at.exception
    assert _configs(at)["gistcad_survival_km"]["format"] == "svg"  # the choice holds


def test_the_performance_page_names_each_figure_after_the_model_and_question(
    app_db: Engine, tmp_path: Path
) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=30, with_series=True)
        train(
            s,
            AccessScope.everything(),
            tmp_path,
            TrainRequest(ModelKind.CLINICAL, Target.KIT11, name="clin"),
        )
        s.commit()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/performance.py")
    at.run()
    assert not at.exception, at.exception
    names = set(_configs(at))
    assert {
        "gistcad_performance_roc_clin_kit11_vs_rest",
        "gistcad_performance_auc_per_center_clin_kit11_vs_rest",
        "gistcad_performance_confusion_clin",
        "gistcad_performance_case_mix_clin",
    } <= names, names
    assert len(names) == len(at.get("plotly_chart"))  # one file name per figure
