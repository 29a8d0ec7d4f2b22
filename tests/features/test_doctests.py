"""Run the examples in the docstrings of gistcad.features."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gistcad.features

MODULES = sorted(m.name for m in pkgutil.iter_modules(gistcad.features.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"gistcad.features.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
