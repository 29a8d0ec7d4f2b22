"""End to end in a real browser: ``gistcad serve --auth local`` asks who you are first.

The very first request to a fresh server goes straight to a page's address: it must meet the
login form, not the page. Then a PI of one center signs in, sees that center only, and signs
out. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gistcad.auth.manage import add_account
from gistcad.domain import Role
from gistcad.store import AccessScope, make_engine, migrations
from tests.app.test_browser import ARTIFACTS, CHROMIUM, FLAGS, RUNNING, serving
from tests.factories import seed_cohort

PASSWORD = "alpha-pi-password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=20)
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "root", Role.ADMIN, [], "admin-password-1")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], PASSWORD)
        s.commit()
    engine.dispose()
    with serving(data, "--auth", "local") as url:
        yield url


def test_first_request_to_a_page_meets_the_login_then_one_center(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{server}/cohort", wait_until="networkidle", timeout=60_000)
        tab.get_by_role("heading", name="gistcad — sign in").wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        assert not tab.get_by_text("Cohort explorer").count()
        assert not tab.get_by_text("P-001").count()
        tab.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)

        tab.get_by_role("textbox", name="User name").fill("alice")
        tab.get_by_role("textbox", name="Password").fill("wrong-password")
        tab.get_by_role("button", name="Sign in").click()
        tab.get_by_text("Unknown user name or wrong password.").wait_for(timeout=60_000)

        tab.get_by_role("textbox", name="Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        assert tab.url.endswith("/cohort")  # the address asked for survives the sign-in
        tab.get_by_role("heading", name="Cohort explorer", exact=True).wait_for(timeout=60_000)
        tab.get_by_text("Download this cohort (CSV)").first.wait_for(timeout=60_000)
        tab.wait_for_selector(RUNNING, state="detached", timeout=60_000)
        sidebar = tab.locator("[data-testid='stSidebar']").inner_text()
        assert "Signed in as alice" in sidebar
        assert "Users and audit" not in sidebar
        assert "Single-user workstation" not in tab.inner_text("body")
        assert "Beta" not in tab.inner_text("body")
        tab.screenshot(path=str(ARTIFACTS / "signed_in_cohort.png"), full_page=True)

        tab.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign out").click()
        tab.get_by_role("heading", name="gistcad — sign in").wait_for(timeout=60_000)
        tab.get_by_text("You are signed out.").wait_for(timeout=60_000)
        browser.close()
