"""Kill an import at every step; the next import completes and nothing is lost or stored twice.

Each case runs ``gistcad import demo`` in a separate process that sends itself SIGKILL at a
named point (:mod:`gistcad.ingest.failpoints`): while staging a volume, after publishing some
volumes, just before the commit, just after it. No clean-up code runs, as after a power cut or
the kernel's out-of-memory killer. Then the same import runs again normally. On SQLite and on
PostgreSQL (there the kills at the commit: see ``KILLS``).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest.failpoints import FAILPOINT_VAR
from gistcad.store import make_engine
from gistcad.store.models import Patient, Segmentation, Series, Tumour
from gistcad.synth.build import BuildOptions, build_cohort

PATIENTS = 12  # one CT and one mask each: 24 files to publish


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "cohort"
    build_cohort(
        BuildOptions(
            out=out,
            patients=PATIENTS,
            centers=3,
            seed=11,
            matrix=64,
            scan_length_mm=40.0,
            workers=1,
            follow_up=False,  # one CT and one mask per patient, as PATIENTS says
        )
    )
    return out


@pytest.fixture
def world(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def _killed_import(env: dict[str, str], failpoint: str, *args: str) -> None:
    """Run ``gistcad import ...`` in its own process and check it died by SIGKILL there."""
    completed = subprocess.run(
        [sys.executable, "-m", "gistcad.cli", "import", *args],
        env={**os.environ, **env, FAILPOINT_VAR: failpoint},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr[-2000:]


def _db_url(env: dict[str, str]) -> str:
    return env["GISTCAD_DB_URL"]


def _state(env: dict[str, str]) -> tuple[tuple[int, int, int, int], dict[str, str]]:
    """Row counts, and every referenced file's path with its content's sha256."""
    data = Path(env["GISTCAD_DATA_DIR"])
    engine = make_engine(_db_url(env))
    with Session(engine) as s:
        counts = tuple(
            s.scalar(select(func.count(model.id))) or 0
            for model in (Patient, Tumour, Series, Segmentation)
        )
        paths = [*s.scalars(select(Series.volume_path)), *s.scalars(select(Segmentation.path))]
        stored = {
            **{r[0]: r[1] for r in s.execute(select(Series.volume_path, Series.volume_sha256))},
            **{r[0]: r[1] for r in s.execute(select(Segmentation.path, Segmentation.sha256))},
        }
    engine.dispose()
    files = {}
    for path in paths:
        digest = hashlib.sha256((data / path).read_bytes()).hexdigest()
        assert digest == stored[path], f"{path}: the file does not match its row"
        files[path] = digest
    return (counts[0], counts[1], counts[2], counts[3]), files  # type: ignore[return-value]


def _leftovers(env: dict[str, str]) -> list[Path]:
    data, temp = Path(env["GISTCAD_DATA_DIR"]), Path(env["TMPDIR"])
    return [*(data / ".staging").glob("*"), *temp.glob("gistcad-unpack-*")]


#: every step on SQLite; on PostgreSQL the kills around the commit: one while staging or
#: publishing leaves the server what the kill just before the commit leaves it (a transaction
#: not committed, which it rolls back), and the files are the same whichever database it is
KILLS = [
    *[("sqlite", step) for step in ("stage:5", "publish:1", "publish:13", "commit", "committed")],
    *[
        pytest.param("postgresql", step, marks=pytest.mark.postgres, id=f"postgresql-{step}")
        for step in ("commit", "committed")
    ],
]


@pytest.mark.parametrize(("cli_env", "failpoint"), KILLS, indirect=["cli_env"])
def test_an_import_killed_at_any_step_completes_on_the_next_run(
    demo: Path, world: dict[str, str], failpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _killed_import(world, failpoint, "demo", str(demo))
    if failpoint == "committed":
        assert _state(world)[0] == (PATIENTS, PATIENTS, PATIENTS, PATIENTS)
    else:  # nothing of the killed import is in the database
        assert _state(world)[0] == (0, 0, 0, 0)
    assert _leftovers(world), "the killed import left its staging folder (it had no chance)"
    capsys.readouterr()
    assert main(["import", "demo", str(demo)]) == 0
    counts, files = _state(world)
    assert counts == (PATIENTS, PATIENTS, PATIENTS, PATIENTS)  # nothing lost, nothing twice
    assert len(files) == 2 * PATIENTS
    assert not _leftovers(world)  # the next import removed what the dead one left
    capsys.readouterr()
    assert main(["db", "status"]) == 0, capsys.readouterr().out
    assert "agrees with the database" in capsys.readouterr().out


def test_db_status_reports_and_db_repair_removes_only_what_nobody_references(
    demo: Path, world: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = sorted((demo / "centers").iterdir())[:2]
    assert main(["import", "dicom", str(first / "dicom"), "--center", first.name]) == 0
    _, before = _state(world)
    _killed_import(world, "publish:3", "dicom", str(second / "dicom"), "--center", second.name)
    capsys.readouterr()
    assert main(["db", "status"]) == 1
    out = capsys.readouterr().out
    assert "3 file(s)" in out and "gistcad db repair" in out and "stale" in out
    assert main(["db", "repair"]) == 0
    assert "removed 3 unreferenced file(s) and 1 folder(s)" in capsys.readouterr().out
    assert _state(world)[1] == before  # every referenced file is still there, unchanged
    assert not _leftovers(world)
    assert main(["db", "status"]) == 0
    # and the import itself goes through afterwards
    assert main(["import", "dicom", str(second / "dicom"), "--center", second.name]) == 0


def test_a_killed_zip_import_leaves_no_identifying_file_in_the_data_folder(
    demo: Path, world: dict[str, str], tmp_path: Path
) -> None:
    center = next(p for p in sorted((demo / "centers").iterdir()))
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (center / "dicom").rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(center))
    _killed_import(world, "stage:1", "dicom", str(archive), "--center", "Zip")
    data, temp = Path(world["GISTCAD_DATA_DIR"]), Path(world["TMPDIR"])
    unpacked = list(temp.glob("gistcad-unpack-*"))
    assert unpacked and any(p.suffix == ".dcm" for p in unpacked[0].rglob("*"))
    assert not [p for p in data.rglob("*.dcm")], "raw DICOM (names, birth dates) in the data folder"
    assert main(["import", "dicom", str(archive), "--center", "Zip"]) == 0
    assert not list(temp.glob("gistcad-unpack-*"))
