"""The suite's own scheduling: the files it starts first exist, and they do come first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import SLOWEST_FIRST, pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", SLOWEST_FIRST)
def test_each_slow_file_named_exists(path: str) -> None:
    # a renamed or removed file would silently lose its place at the front
    assert (ROOT / path).is_file(), f"{path} is named in tests/conftest.py but does not exist"


def test_the_slowest_files_move_to_the_front_in_their_order() -> None:
    config = SimpleNamespace(rootpath=ROOT)
    quick = [ROOT / "tests/analysis/test_cox.py", ROOT / "tests/test_display.py"]
    slow = [ROOT / SLOWEST_FIRST[1], ROOT / SLOWEST_FIRST[0]]
    items = [
        SimpleNamespace(path=quick[0], name="a"),
        SimpleNamespace(path=slow[0], name="b"),
        SimpleNamespace(path=quick[1], name="c"),
        SimpleNamespace(path=slow[1], name="d"),
        SimpleNamespace(path=slow[0], name="e"),
        SimpleNamespace(path=Path("/elsewhere/test_x.py"), name="f"),
    ]
    pytest_collection_modifyitems(config, items)
    assert [item.name for item in items] == ["d", "b", "e", "a", "c", "f"]
