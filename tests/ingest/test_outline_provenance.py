"""Imported outlines keep who made them: a DICOM SEG's SegmentAlgorithmType and an RTSTRUCT's
ROIGenerationAlgorithm are stored as the segmentation's source, and the models read only a
reader's outline (``REFERENCE_OUTLINES``): an outline a program made without a reader is
stored, shown and noted, never trained on, and neither is sent back to the PACS as a reader's."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.domain import SegmentationSource, outline_caption
from gistcad.store import AccessScope, make_engine
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import Patient, Segmentation
from gistcad.store.queries import series_segmentations, shown_outline
from tests.imaging.conftest import build_ct_series, circle, disk_mask, write_rtstruct, write_seg

NO_READER = "made by a program without a reader"


def _import(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["import", "dicom", str(folder), "--center", "T", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert not report["problems"], report["problems"]
    return report  # type: ignore[no-any-return]


def _stored(env: dict[str, str]) -> list[tuple[str, SegmentationSource, str]]:
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        rows = s.execute(
            select(Segmentation.label, Segmentation.source, Segmentation.path).order_by(
                Segmentation.id
            )
        ).all()
    return [(str(label), SegmentationSource(source), str(path)) for label, source, path in rows]


def _push(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    """``gistcad pacs push`` of the one patient to an address where no PACS listens: what it
    says on stderr (a refused outline is refused before the PACS is asked)."""
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        pseudonym = s.scalars(select(Patient.pseudonym)).one()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    capsys.readouterr()
    assert main(["pacs", "push", "--url", f"http://127.0.0.1:{port}/dicom-web", pseudonym]) != 0
    return capsys.readouterr().err


def _shown(env: dict[str, str]) -> tuple[str, str]:
    """The path of the outline the case view and report show, and what the case view says."""
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        series_id = s.scalars(select(Segmentation.series_id)).first()
        assert series_id is not None
        outline = shown_outline(series_segmentations(s, AccessScope.everything(), series_id))
    assert outline is not None
    return str(outline["path"]), outline_caption(str(outline["source"]))


def _read_mask(env: dict[str, str]) -> object:
    """The mask file the models read for the one patient (missing when none)."""
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        table = modelling_table(s, AccessScope.everything())
    assert len(table) == 1
    return table["mask_path"].iloc[0]


def test_an_automatic_seg_is_stored_as_such_and_never_read_by_the_models(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    built = build_ct_series(export / "ct", columns=16, rows=12)
    write_seg(built, disk_mask(6, 12, 16, radius=4), export / "seg.dcm", algorithm="AUTOMATIC")
    report = _import(export, capsys)
    (note,) = [n for n in report["notes"] if NO_READER in n]  # type: ignore[union-attr]
    assert "seg.dcm" in note and "a reader's outline of this CT" in note
    assert [(label, source) for label, source, _ in _stored(cli_env)] == [
        ("tumour", SegmentationSource.IMPORTED_AUTOMATIC)
    ]
    assert pd.isna(_read_mask(cli_env))  # no reference outline: the models leave it out
    assert "made by another program without a reader" in _push(cli_env, capsys)
    assert _shown(cli_env)[1] == (
        "Outline shown: Automatic (imported; no reader). The models read no outline of this "
        "CT: import a reader's outline."
    )

    # importing the same export again stores nothing twice
    again = _import(export, capsys)
    assert len(_stored(cli_env)) == 1 and again["created"] == 0

    # a reader's RTSTRUCT of the same CT arrives: the models read that one
    reader = tmp_path / "reader"
    shutil.copytree(export / "ct", reader / "ct")
    write_rtstruct(built, {2: [circle((7.5, 5.5), 3.0)]}, reader / "rs.dcm", generation="MANUAL")
    report = _import(reader, capsys)
    assert not [n for n in report["notes"] if NO_READER in n]  # type: ignore[union-attr]
    stored = _stored(cli_env)
    assert [(label, source) for label, source, _ in stored] == [
        ("tumour", SegmentationSource.IMPORTED_AUTOMATIC),
        ("GIST", SegmentationSource.MANUAL),
    ]
    assert _read_mask(cli_env) == stored[1][2]
    # the case view shows the outline the models read, not the older automatic one
    assert _shown(cli_env) == (
        stored[1][2],
        "Outline shown: Manual (imported), the one the models read.",
    )
    assert "does not answer" in _push(cli_env, capsys)  # the reader's outline would be sent


def test_a_semi_automatic_rtstruct_is_a_reference_outline(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    built = build_ct_series(export / "ct", columns=16, rows=12)
    write_rtstruct(
        built, {2: [circle((7.5, 5.5), 3.0)]}, export / "rs.dcm", generation="SEMIAUTOMATIC"
    )
    report = _import(export, capsys)
    assert not [n for n in report["notes"] if NO_READER in n]  # type: ignore[union-attr]
    ((_, source, path),) = _stored(cli_env)
    assert source is SegmentationSource.IMPORTED_SEMI_AUTOMATIC
    assert _read_mask(cli_env) == path
    # a SEG sent back would have to name the program that made it, which is not kept
    assert "made semi-automatically by another program" in _push(cli_env, capsys)


def _export(tmp_path: Path, name: str, ct: Path) -> Path:
    """A new export folder holding a copy of the CT folder ``ct``."""
    shutil.copytree(ct, tmp_path / name / "ct")
    return tmp_path / name


def test_a_readers_outline_of_the_same_name_is_stored_beside_a_programs(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    built = build_ct_series(first / "ct", columns=16, rows=12)
    mask = disk_mask(6, 12, 16, radius=4)
    write_seg(built, mask, first / "seg.dcm", algorithm="AUTOMATIC")
    _import(first, capsys)
    reader = _export(tmp_path, "reader", first / "ct")
    write_seg(built, disk_mask(6, 12, 16, radius=3), reader / "seg.dcm", algorithm="MANUAL")
    _import(reader, capsys)
    stored = _stored(cli_env)  # a mask of the same name, but not the same outline
    assert [(label, source) for label, source, _ in stored] == [
        ("tumour", SegmentationSource.IMPORTED_AUTOMATIC),
        ("tumour", SegmentationSource.MANUAL),
    ]
    assert _read_mask(cli_env) == stored[1][2]
    # a program's outline arrives after the reader's: the push sends the reader's, the
    # newest outline it can send as what it is
    later = _export(tmp_path, "later", first / "ct")
    write_seg(built, mask, later / "seg.dcm", label="AI tumour", algorithm="AUTOMATIC")
    _import(later, capsys)
    assert len(_stored(cli_env)) == 3
    assert "does not answer" in _push(cli_env, capsys)


def test_an_outline_stored_as_manual_before_its_maker_was_read_is_corrected_on_reimport(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    built = build_ct_series(export / "ct", columns=16, rows=12)
    write_seg(built, disk_mask(6, 12, 16, radius=4), export / "seg.dcm", algorithm="AUTOMATIC")
    _import(export, capsys)
    engine = make_engine(cli_env["GISTCAD_DB_URL"])
    with engine.begin() as conn:  # what an import before schema 0009 stored
        conn.execute(text("UPDATE segmentations SET source = 'manual'"))
    assert _read_mask(cli_env) == _stored(cli_env)[0][2]
    report = _import(export, capsys)
    (note,) = [n for n in report["notes"] if "by an earlier import" in n]  # type: ignore[union-attr]
    assert note.endswith("now recorded as its file says: Automatic (imported; no reader)")
    ((_, source, _),) = _stored(cli_env)
    assert source is SegmentationSource.IMPORTED_AUTOMATIC
    assert pd.isna(_read_mask(cli_env))


def test_a_readers_and_a_programs_segment_of_one_seg_are_both_kept(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One SEG, two segments named alike with the same voxels, a reader's then a program's:
    the program's is not taken for an earlier import's mislabelled copy of the reader's."""
    export = tmp_path / "export"
    built = build_ct_series(export / "ct", columns=16, rows=12)
    mask = disk_mask(6, 12, 16, radius=4)
    write_seg(built, mask, export / "seg.dcm", algorithm=("MANUAL", "AUTOMATIC"))
    report = _import(export, capsys)
    assert not [n for n in report["notes"] if "by an earlier import" in n]  # type: ignore[union-attr]
    assert sorted(source for _, source, _ in _stored(cli_env)) == sorted(
        [SegmentationSource.MANUAL, SegmentationSource.IMPORTED_AUTOMATIC]
    )
    assert _read_mask(cli_env) == next(
        path for _, source, path in _stored(cli_env) if source is SegmentationSource.MANUAL
    )
