"""``gistcad segment`` and saving an outline, on SQLite and PostgreSQL: the saved mask reads back
equal, its source, author and time are recorded with an audit row; a refused click stores
nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.commands.access import operator_name
from gistcad.domain import SegmentationSource
from gistcad.errors import ValidationError
from gistcad.imaging.nifti_io import read_nifti, sha256_file
from gistcad.layout import DataLayout
from gistcad.segmentation import grow_from_seed
from gistcad.segmentation.outline import save_outline
from gistcad.store import AccessScope, make_engine
from gistcad.store.models import AuditEvent, Segmentation
from tests.segmentation.phantoms import add_phantom_patient, phantom


@pytest.fixture
def data(cli_env: dict[str, str]) -> Path:
    """Patient P-1 of center Alpha with the phantom CT as its canonical volume, no mask."""
    data_dir = Path(cli_env["GISTCAD_DATA_DIR"])
    engine = make_engine(cli_env["GISTCAD_DB_URL"])
    add_phantom_patient(engine, data_dir)
    engine.dispose()
    return data_dir


def _rows(env: dict[str, str]) -> tuple[list[Segmentation], list[AuditEvent]]:
    engine = make_engine(env["GISTCAD_DB_URL"])
    with Session(engine, expire_on_commit=False) as s:
        segs = list(s.scalars(select(Segmentation)))
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "outline.save")))
    engine.dispose()
    return segs, audits


def test_save_stores_the_outline_with_source_author_and_audit(
    data: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segment", "P-1", "--seed", "33,32,16", "--save"]) == 0
    out = capsys.readouterr().out
    assert "longest axial diameter" in out and "saved as segmentation" in out
    (row,), (audit,) = _rows(cli_env)
    assert row.source is SegmentationSource.SEMI_AUTOMATIC
    assert row.created_by == operator_name() == audit.actor
    assert row.created_at is not None and audit.target == "P-1"
    assert audit.detail == {"segmentation_id": row.id, "volume_ml": row.volume_ml}
    saved = read_nifti(data / row.path, mmap=False)
    expected = grow_from_seed(phantom().ct, seed_ijk=(33, 32, 16))
    assert saved.equals(expected)
    assert sha256_file(data / row.path) == row.sha256
    assert row.volume_ml == pytest.approx(expected.array.sum() * 2.0 / 1000.0, abs=1e-3)
    assert f"{row.volume_ml:.1f} ml" in out


def test_without_save_nothing_is_stored(
    data: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segment", "P-1", "--seed", "33,32,16", "--tolerance", "50"]) == 0
    assert "not saved" in capsys.readouterr().out
    assert _rows(cli_env) == ([], [])


def test_a_click_in_the_organ_is_refused_and_nothing_is_stored(
    data: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    files_before = sorted(p.name for p in (data / "volumes" / "P-1").iterdir())
    assert main(["segment", "P-1", "--seed", "55,32,16", "--save"]) == 2
    assert "grew into the surrounding organs" in capsys.readouterr().err
    assert _rows(cli_env) == ([], [])
    assert sorted(p.name for p in (data / "volumes" / "P-1").iterdir()) == files_before


def test_a_click_in_mm_is_the_same_click(
    data: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The phantom's affine is diag(1, 1, 2): voxel (33, 32, 16) is (33, 32, 32) mm."""
    assert main(["segment", "P-1", "--seed", "33,32,16"]) == 0
    by_voxel = capsys.readouterr().out
    assert main(["segment", "P-1", "--seed", "33,32,32", "--mm"]) == 0
    assert capsys.readouterr().out == by_voxel


@pytest.mark.parametrize("seed", ["33,32", "a,b,c"])
def test_a_malformed_seed_is_refused(
    data: Path, seed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segment", "P-1", "--seed", seed]) == 2
    assert "--seed must be three numbers" in capsys.readouterr().err


def test_an_empty_or_foreign_mask_is_not_saved(data: Path, cli_env: dict[str, str]) -> None:
    engine = make_engine(cli_env["GISTCAD_DB_URL"])
    ct = phantom().ct
    with Session(engine) as s:
        scope, layout = AccessScope.everything(user="tester"), DataLayout(data)
        with pytest.raises(ValidationError, match="the outline is empty"):
            save_outline(s, scope, layout, "P-1", ct.with_array(np.zeros(ct.shape, np.uint8)))
        small = ct.with_array(np.ones(ct.shape, np.uint8))
        shifted = type(ct)(small.array, small.affine + np.array([[0, 0, 0, 5]] * 3 + [[0] * 4]))
        with pytest.raises(ValidationError, match="does not match the CT"):
            save_outline(s, scope, layout, "P-1", shifted)
    engine.dispose()
    assert _rows(cli_env) == ([], [])
