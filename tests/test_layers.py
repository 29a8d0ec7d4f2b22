"""The layers of DESIGN.md, checked on the source: arrows point one way, pages stay thin.

- ``gistcad.imaging`` never imports ``gistcad.ingest`` (readers sit below the importer);
- ``gistcad.analysis`` and ``gistcad.plots`` never import ``gistcad.store`` (pure functions);
- nothing in ``gistcad/`` imports Streamlit;
- only ``gistcad.store`` builds or runs SQL (the job runner and the use cases call it);
- a page (``views/*.py``, ``app.py``) opens no file, asks the file system nothing, and builds
  no SQL: it calls the domain functions that do.

The checkers are plain functions of source text; each rule is first shown to catch a small
synthetic violation, so that a green run on the real tree means something.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (importing package, forbidden package, why)
FORBIDDEN_IMPORTS: tuple[tuple[str, str, str], ...] = (
    ("gistcad.imaging", "gistcad.ingest", "imaging reads files; it never imports the importer"),
    ("gistcad.analysis", "gistcad.store", "statistics are pure: data in, results out"),
    ("gistcad.plots", "gistcad.store", "figure builders take data frames, not sessions"),
    ("gistcad", "streamlit", "no Streamlit in gistcad/: caching and widgets are the app's"),
)

#: Calls a page must leave to the domain: file access (``name`` or ``x.name``).
FILE_FUNCTIONS = frozenset({"open", "dcmread", "read_nifti"})
FILE_METHODS = frozenset(
    {
        "open",
        "is_file",
        "is_dir",
        "exists",
        "stat",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "iterdir",
    }
)
#: ``module.load`` of an array or image library.
LOADERS = frozenset({"np", "numpy", "nib", "nibabel", "torch", "pydicom"})
#: SQL built or run: SQLAlchemy's constructs, and a session's execute.
SQL_FUNCTIONS = frozenset({"select", "text", "insert", "update", "delete"})
SQL_METHODS = frozenset({"execute", "scalars"})


@dataclass(frozen=True)
class Violation:
    """One breach of a layer rule, located by file and line."""

    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def module_name(path: Path, root: Path = ROOT) -> str:
    """``gistcad/imaging/deid.py`` → ``gistcad.imaging.deid`` (a package's ``__init__`` too)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(tree: ast.AST, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module ``tree`` imports, with its line; relative imports resolved against ``module``.

    ``from a import b`` counts as importing both ``a`` and ``a.b`` (``b`` may be a module).
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def import_violations(
    path: str, module: str, source: str, is_package: bool = False
) -> list[Violation]:
    """The upward imports of one module of ``gistcad/`` (see :data:`FORBIDDEN_IMPORTS`).

    One violation per import statement and rule, naming the first forbidden module it reads.
    """
    tree = ast.parse(source, filename=path)
    found: dict[tuple[int, str], Violation] = {}
    for line, name in imports(tree, module, is_package):
        for importer, forbidden, why in FORBIDDEN_IMPORTS:
            if _within(module, importer) and _within(name, forbidden):
                rule = f"{module} imports {name}: {why}"
                found.setdefault((line, forbidden), Violation(path, line, rule))
    return sorted(found.values(), key=lambda v: (v.line, v.rule))


def _call_name(call: ast.Call) -> tuple[str | None, str | None]:
    """(function, receiver) of a call: ``open(x)`` → (open, None); ``np.load`` → (load, np).

    The receiver is ``""`` when it is not a plain name (``Path(p).exists()``).
    """
    func = call.func
    if isinstance(func, ast.Name):
        return func.id, None
    if isinstance(func, ast.Attribute):
        receiver = func.value.id if isinstance(func.value, ast.Name) else None
        return func.attr, receiver or ""
    return None, None


def view_violations(path: str, source: str) -> list[Violation]:
    """File access and SQL in a page's source (see the module docstring)."""
    tree = ast.parse(source, filename=path)
    found = []
    lines = {line for line, name in imports(tree, "views.page") if _within(name, "sqlalchemy")}
    for line in lines:
        found.append(Violation(path, line, "imports sqlalchemy: SQL belongs in gistcad.store"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, receiver = _call_name(node)
        if name is None:
            continue
        if receiver is None and name in FILE_FUNCTIONS:
            found.append(Violation(path, node.lineno, f"calls {name}(): pages open no file"))
        elif receiver is None and name in SQL_FUNCTIONS:
            found.append(Violation(path, node.lineno, f"calls {name}(): pages build no SQL"))
        elif receiver is not None and name in FILE_METHODS:
            found.append(
                Violation(path, node.lineno, f"calls .{name}(): pages ask the file system nothing")
            )
        elif receiver in LOADERS and name in {"load", "dcmread"}:
            found.append(
                Violation(path, node.lineno, f"calls {receiver}.{name}(): pages load no file")
            )
        elif receiver is not None and name in SQL_METHODS:
            found.append(Violation(path, node.lineno, f"calls .{name}(): pages run no SQL"))
    return sorted(set(found), key=lambda v: (v.line, v.rule))


#: what builds or runs SQL; only the store (and the migrations in db/) may
SQL_BUILDERS = frozenset({"select", "text", "insert", "update", "delete", "func", "and_", "or_"})


def sql_violations(path: str, module: str, source: str) -> list[Violation]:
    """SQL built or run outside ``gistcad.store``: SQLAlchemy's statement builders imported,
    or ``.execute()`` / ``.scalars()`` called. Types (``Session``, ``Engine``) and errors
    (``sqlalchemy.exc``) may be imported anywhere: they build nothing."""
    if _within(module, "gistcad.store"):
        return []
    tree = ast.parse(source, filename=path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlalchemy.sql"):
            for alias in node.names:
                if alias.name in SQL_BUILDERS:
                    rule = f"{module} imports sqlalchemy.{alias.name}: SQL belongs in gistcad.store"
                    found.append(Violation(path, node.lineno, rule))
        elif isinstance(node, ast.Call):
            name, receiver = _call_name(node)
            if receiver is not None and name in SQL_METHODS:
                rule = f"{module} calls .{name}(): SQL runs in gistcad.store"
                found.append(Violation(path, node.lineno, rule))
    return sorted(set(found), key=lambda v: (v.line, v.rule))


def package_violations(root: Path = ROOT) -> list[Violation]:
    """Upward imports anywhere in ``gistcad/``."""
    found = []
    for path in sorted((root / "gistcad").rglob("*.py")):
        relative, module = str(path.relative_to(root)), module_name(path, root)
        source = path.read_text(encoding="utf-8")
        found += import_violations(relative, module, source, is_package=path.name == "__init__.py")
        found += sql_violations(relative, module, source)
    return found


def page_violations(root: Path = ROOT) -> list[Violation]:
    """File access and SQL in ``app.py`` and every page of ``views/``."""
    found = []
    for path in [root / "app.py", *sorted((root / "views").glob("*.py"))]:
        found += view_violations(str(path.relative_to(root)), path.read_text(encoding="utf-8"))
    return found


# -- each rule catches its violation ------------------------------------------------------

UPWARD_IMPORTS = [
    ("gistcad.imaging.deid", "from gistcad.ingest.report import Problem\n", "gistcad.ingest"),
    ("gistcad.imaging.deid", "import gistcad.ingest.pseudonym\n", "gistcad.ingest"),
    ("gistcad.imaging.deid", "from ..ingest import pseudonym\n", "gistcad.ingest"),
    ("gistcad.imaging.deid", "from gistcad import ingest\n", "gistcad.ingest"),
    ("gistcad.analysis.cox", "from gistcad.store.queries import cohort\n", "gistcad.store"),
    ("gistcad.analysis.cox", "from gistcad.store import session_scope\n", "gistcad.store"),
    (
        "gistcad.analysis.cox",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gistcad.store\n",
        "gistcad.store",
    ),
    ("gistcad.plots.survival", "from gistcad.store.frames import x\n", "gistcad.store"),
    ("gistcad.plots.survival", "from ..store import frames\n", "gistcad.store"),
    ("gistcad.jobs", "import streamlit as st\n", "streamlit"),
    ("gistcad.store.engine", "from streamlit import cache_resource\n", "streamlit"),
    ("gistcad.neural", "def f():\n    import streamlit.components.v1\n", "streamlit"),
]


@pytest.mark.parametrize(("module", "source", "forbidden"), UPWARD_IMPORTS)
def test_an_upward_import_is_reported(module: str, source: str, forbidden: str) -> None:
    found = import_violations("snippet.py", module, source, is_package=module == "gistcad.neural")
    assert len(found) == 1, found
    assert f"imports {forbidden}" in found[0].rule
    assert found[0].line == source.count("\n")  # the import is the snippet's last line


SQL_OUTSIDE_THE_STORE = [
    ("gistcad.jobs", "from sqlalchemy import Engine, select\n", "sqlalchemy.select"),
    ("gistcad.demo_models", "from sqlalchemy import func\n", "sqlalchemy.func"),
    ("gistcad.jobs", "rows = session.execute(stmt).all()\n", ".execute()"),
    ("gistcad.modelling.trainer", "n = session.scalars(stmt).first()\n", ".scalars()"),
]


@pytest.mark.parametrize(("module", "source", "what"), SQL_OUTSIDE_THE_STORE)
def test_sql_outside_the_store_is_reported(module: str, source: str, what: str) -> None:
    found = sql_violations("snippet.py", module, source)
    assert len(found) == 1 and what in found[0].rule, found


def test_sql_in_the_store_and_types_elsewhere_are_not_reported() -> None:
    assert sql_violations("s.py", "gistcad.store.jobs", "from sqlalchemy import select\n") == []
    typed = "from sqlalchemy import Engine\nfrom sqlalchemy.orm import Session\n"
    assert sql_violations("s.py", "gistcad.jobs", typed) == []
    errors = "from sqlalchemy.exc import OperationalError\n"
    assert sql_violations("s.py", "gistcad.jobs", errors) == []


ALLOWED_IMPORTS = [
    ("gistcad.ingest.dicom", "from gistcad.imaging.volume import Volume\n"),
    ("gistcad.imaging.errors", "from gistcad.problems import Problem\n"),
    ("gistcad.analysis.cox", "from gistcad.analysis.variables import Endpoint\n"),
    ("gistcad.analysis.cox", "from . import kaplan_meier\n"),
    ("gistcad.store.queries", "from gistcad.analysis.risk import nih\n"),
    ("gistcad.plots.survival", "import plotly.graph_objects as go\n"),
    ("gistcad.ingestion_notes", "import gistcad.ingest\n"),  # not gistcad.imaging
]


@pytest.mark.parametrize(("module", "source"), ALLOWED_IMPORTS)
def test_a_downward_import_is_not_reported(module: str, source: str) -> None:
    assert import_violations("snippet.py", module, source) == []


PAGE_VIOLATIONS = [
    ("with open(path) as f:\n    f.read()\n", "open()"),
    ("data = path.open('rb')\n", ".open()"),
    ("arr = np.load(path)\n", "np.load()"),
    ("arr = numpy.load(path, mmap_mode='r')\n", "numpy.load()"),
    ("img = nib.load(path)\n", "nib.load()"),
    ("ds = pydicom.dcmread(path)\n", "pydicom.dcmread()"),
    ("ds = dcmread(path)\n", "dcmread()"),
    ("volume = read_nifti(path)\n", "read_nifti()"),
    ("ok = path.is_file()\n", ".is_file()"),
    ("ok = Path(p).exists()\n", ".exists()"),
    ("ok = os.path.exists(p)\n", ".exists()"),
    ("size = path.stat().st_size\n", ".stat()"),
    ("text = path.read_text()\n", ".read_text()"),
    ("raw = path.read_bytes()\n", ".read_bytes()"),
    ("path.write_text('x')\n", ".write_text()"),
    ("path.write_bytes(b'x')\n", ".write_bytes()"),
    ("import sqlalchemy\n", "imports sqlalchemy"),
    ("from sqlalchemy import func\n", "imports sqlalchemy"),
    ("from sqlalchemy.orm import Session\n", "imports sqlalchemy"),
    ("stmt = select(Patient)\n", "select()"),
    ("stmt = text('SELECT 1')\n", "text()"),
    ("rows = session.execute(stmt).all()\n", ".execute()"),
    ("rows = session.scalars(stmt).all()\n", ".scalars()"),
]


@pytest.mark.parametrize(("source", "what"), PAGE_VIOLATIONS)
def test_file_access_and_sql_in_a_page_are_reported(source: str, what: str) -> None:
    found = view_violations("views/snippet.py", source)
    assert found, f"{source!r} was not reported"
    assert any(what in v.rule for v in found), found
    assert all(v.line == 1 for v in found)


def test_a_thin_page_is_not_reported() -> None:
    source = (
        "import streamlit as st\n"
        "from gistcad.store import session_scope\n"
        "from gistcad.store.queries import cohort_counts\n"
        "from views.common import engine, scope\n"
        "with session_scope(engine()) as session:\n"
        "    counts = cohort_counts(session, scope())\n"
        "st.text('Patients')\n"
        "st.metric('Patients', counts.patients)\n"
        "choice = st.selectbox('Center', ['Alpha'], key='center')\n"
    )
    assert view_violations("views/snippet.py", source) == []


def test_relative_imports_resolve_against_the_module() -> None:
    tree = ast.parse("from . import a\nfrom ..b import c\n")
    assert imports(tree, "gistcad.analysis.cox") == [
        (1, "gistcad.analysis"),
        (1, "gistcad.analysis.a"),
        (2, "gistcad.b"),
        (2, "gistcad.b.c"),
    ]
    package = imports(ast.parse("from .x import y\n"), "gistcad.imaging", is_package=True)
    assert package == [(1, "gistcad.imaging.x"), (1, "gistcad.imaging.x.y")]


def test_module_names_follow_the_tree() -> None:
    assert module_name(ROOT / "gistcad" / "imaging" / "deid.py") == "gistcad.imaging.deid"
    assert module_name(ROOT / "gistcad" / "imaging" / "__init__.py") == "gistcad.imaging"


# -- the real tree --------------------------------------------------------------------------


def test_the_package_imports_only_downwards() -> None:
    found = package_violations()
    assert not found, "upward imports:\n" + "\n".join(map(str, found))


def test_the_pages_open_no_file_and_build_no_sql() -> None:
    found = page_violations()
    assert not found, "pages doing the domain's work:\n" + "\n".join(map(str, found))
