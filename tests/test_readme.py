"""The README stays true to the code it documents."""

from __future__ import annotations

from pathlib import Path

from gistcad.ingest.clinical_schema import schema_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_clinical_schema_table_matches_the_code() -> None:
    start = README.index("<!-- clinical-schema:start -->") + len("<!-- clinical-schema:start -->")
    end = README.index("<!-- clinical-schema:end -->")
    assert README[start:end].strip() == schema_markdown()


def test_the_test_command_is_the_one_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in README and ci.rstrip().endswith("make test")
