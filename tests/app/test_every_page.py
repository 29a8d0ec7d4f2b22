"""Contract: every page of the navigation renders without exception, empty and seeded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, ROOT
from tests.factories import seed_cohort

PAGES = sorted(set(re.findall(r'"(views/[a-z_]+\.py)"', (ROOT / "app.py").read_text())))


def test_the_navigation_lists_every_page_file() -> None:
    files = {f"views/{p.name}" for p in (ROOT / "views").glob("*.py")}
    helpers = {
        "views/__init__.py",
        "views/access.py",
        "views/common.py",
        "views/outline.py",
        "views/viewer.py",
    }
    assert set(PAGES) == files - helpers


@pytest.mark.parametrize("seeded", [False, True], ids=["empty", "seeded"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders(app_db: Engine, page: str, seeded: bool) -> None:
    if seeded:
        with Session(app_db) as s:
            seed_cohort(s, n=30, with_series=True)
            s.commit()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["patient"] = "P-001"
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"
