"""Benchmark: one new patient at the tumour board, upload → outline → predict → report → DICOM.

Target (issue 18): the whole flow takes under 2 minutes of compute for a 512 × 512 × 200 CT
on 2 cores.

Set-up, not timed: a fresh data folder; a small synthetic cohort (``--train-patients``,
matrix 64) imported with ``gistcad import demo``; two radiomics models trained on it and
registered (genotype and risk score: image models, so that they can predict a patient who
came with a CT only); a local Orthanc with its DICOMweb plugin (Debian packages ``orthanc``,
``orthanc-dicomweb``) holding the new patient's CT, as the hospital's PACS would.

The new patient (FAKE identifying data): a 6 cm gastric tumour rendered by the generator on a
512 × 512 × 200 CT (1 mm slices), written as one DICOM file per slice and zipped in memory,
without a mask. Timed, each through the function that the dashboard and the command line call:

1. upload: :func:`gistcad.ingest.upload.import_upload` (validation, de-identification, the
   canonical volume, one transaction);
2. outline: :func:`gistcad.segmentation.outline.outline_patient` with one click at the
   tumour's centre (a RAS+ point in mm), ``save=True``;
3. predict: :func:`gistcad.modelling.current.predict_with_current_models` (genotype, risk
   score; response where a response model is registered);
4. report: :func:`gistcad.viewer.report.export_case_report` (the printable HTML);
5. DICOM SEG + SR: :func:`gistcad.pacs.push.push_results` (built, re-read, sent by STOW-RS).

Usage::

    .venv/bin/python bench/tumour_board_flow.py
    .venv/bin/python bench/tumour_board_flow.py --matrix 256 --slices 100   # a quick look
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import requests

TARGET_S = 120.0
CENTER = "Board"
#: The new patient (FAKE identifying data), no mask.
RECORD: dict[str, Any] = {
    "hospital_id": "BRD-000318",
    "patient_name": "VERMEER^Anna",
    "birth_date": date(1958, 3, 14),
    "sex": "female",
    "age_years": 66,
    "center": CENTER,
    "site": "stomach",
    "sub_site": "body",
    "size_cm": 6.0,
    "surgery_date": date(2024, 9, 2),
    "enhancement_hu": 60.0,
    "heterogeneity": 0.4,
    "necrosis_fraction": 0.1,
    "lobulation": 0.3,
    "exophytic": False,
    "calcification": False,
}


@contextmanager
def orthanc(folder: Path) -> Iterator[str | None]:
    """The local Orthanc (:func:`gistcad.pacs.local_server.local_orthanc`); yields its REST
    root, or None when it is not installed."""
    from gistcad.pacs.local_server import local_orthanc, orthanc_installed

    if not orthanc_installed():
        yield None
        return
    with local_orthanc(folder, name="gistcad-bench") as rest:
        yield rest


def new_patient_files(folder: Path, matrix: int, slices: int) -> tuple[list[Path], np.ndarray]:
    """The new patient's CT as DICOM files in ``folder``, and the tumour's centre (RAS+ mm)."""
    from gistcad.imaging.volume import lps_to_ras
    from gistcad.synth.centers import DEFAULT_CENTERS
    from gistcad.synth.ct_export import derive_uid, write_ct_series
    from gistcad.synth.phantom import render_ct

    center = replace(DEFAULT_CENTERS[0], name=CENTER)
    length = slices * center.slice_thickness_mm
    ct = render_ct(
        RECORD, center, matrix=matrix, rng=np.random.default_rng(18), scan_length_mm=length
    )
    points = np.argwhere(np.asarray(ct.tumour_mask))  # (k, j, i)
    k, j, i = points.mean(axis=0)
    centre_ras = (lps_to_ras(ct.affine_lps) @ np.array([i, j, k, 1.0]))[:3]
    files = write_ct_series(
        ct,
        RECORD,
        center,
        folder,
        study_uid=derive_uid("board", "study"),
        series_uid=derive_uid("board", "series"),
        frame_of_reference_uid=derive_uid("board", "for"),
        uid_root_entropy="board",
        study_date=date(2024, 8, 20),
    )
    return files, centre_ras


def set_up(data: Path, work: Path, train_patients: int) -> None:
    """Import a small synthetic cohort and register two radiomics models (not timed)."""
    from gistcad.cli import main
    from gistcad.config import load_settings
    from gistcad.domain import ModelKind
    from gistcad.modelling.targets import Target
    from gistcad.modelling.trainer import TrainRequest, train
    from gistcad.store import AccessScope, make_engine, session_scope
    from gistcad.synth.build import BuildOptions, build_cohort

    cohort = work / "cohort"
    options = BuildOptions(
        out=cohort,
        patients=train_patients,
        centers=2,
        seed=0,
        matrix=64,
        scan_length_mm=60.0,
        workers=1,
    )
    build_cohort(replace(options, follow_up=False))
    if main(["db", "upgrade"]) != 0 or main(["import", "demo", str(cohort)]) != 0:
        raise RuntimeError("the training cohort did not import")
    engine = make_engine(load_settings().db_url)
    with session_scope(engine) as session:
        for target in (Target.GENOTYPE, Target.RISK):
            request = TrainRequest(ModelKind.RADIOMICS, target, name=f"board-{target.value}")
            train(session, AccessScope.everything(), data, request)
    engine.dispose()


def timed(steps: list[tuple[str, float, str]], name: str, call: Callable[[], str]) -> None:
    start = time.perf_counter()
    detail = call()
    steps.append((name, time.perf_counter() - start, detail))
    print(f"{name:<14} {steps[-1][1]:7.1f} s  {detail}", flush=True)


def run(matrix: int, slices: int, train_patients: int) -> list[tuple[str, float, str]]:
    from sqlalchemy import select

    from gistcad.config import load_settings
    from gistcad.ingest.upload import UploadedFile, import_upload
    from gistcad.layout import DataLayout
    from gistcad.modelling.current import predict_with_current_models
    from gistcad.pacs.push import push_results
    from gistcad.segmentation.outline import outline_patient
    from gistcad.store import AccessScope, make_engine, session_scope
    from gistcad.store.models import Patient
    from gistcad.viewer.report import export_case_report

    work = Path(tempfile.mkdtemp(prefix="gistcad-board-"))
    data = work / "data"
    os.environ["GISTCAD_DATA_DIR"] = str(data)
    os.environ.pop("GISTCAD_DB_URL", None)
    start = time.perf_counter()
    set_up(data, work, train_patients)
    (work / "dicom").mkdir()
    files, click_mm = new_patient_files(work / "dicom", matrix, slices)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for file in files:
            z.write(file, f"export/{file.name}")
    upload = [UploadedFile("export.zip", archive.getvalue())]
    print(
        f"set-up (not timed): {time.perf_counter() - start:.0f} s; CT {matrix} x {matrix} x "
        f"{slices}, zip {len(upload[0].data) / 1e6:.0f} MB"
    )
    scope, layout, engine = (
        AccessScope.everything(user="bench"),
        DataLayout(data),
        make_engine(load_settings().db_url),
    )
    steps: list[tuple[str, float, str]] = []
    (work / "orthanc").mkdir()
    with orthanc(work / "orthanc") as rest:
        if rest is not None:  # the hospital's PACS holds the CT already
            for file in files:
                requests.post(f"{rest}/instances", data=file.read_bytes(), timeout=60)

        def do_upload() -> str:
            (report,) = import_upload(engine, data, scope, upload, center=CENTER)
            if not report.ok or report.created != 1:
                raise RuntimeError(f"the upload did not import: {report.to_dict()}")
            return "1 series imported"

        with session_scope(engine) as session:
            before = set(session.scalars(select(Patient.pseudonym)))
        timed(steps, "upload", do_upload)
        with session_scope(engine) as session:
            (pseudonym,) = set(session.scalars(select(Patient.pseudonym))) - before

        def do_outline() -> str:
            with session_scope(engine) as session:
                result = outline_patient(
                    session, scope, layout, pseudonym, tuple(click_mm), in_mm=True, save=True
                )
            return (
                f"{result.volume_ml:.0f} ml, longest axial diameter "
                f"{result.longest_axial_diameter_mm:.0f} mm, saved"
            )

        def do_predict() -> str:
            with session_scope(engine) as session:
                done = predict_with_current_models(session, scope, data, [pseudonym], device="cpu")
            return "; ".join(f"{v.question} by {v.name}" for v, _ in done)

        def do_report() -> str:
            with session_scope(engine) as session:
                text = export_case_report(session, scope, layout, pseudonym)
            return f"{len(text) / 1e3:.0f} kB of HTML"

        def do_push() -> str:
            if rest is None:
                return "not run: Orthanc with its DICOMweb plugin is not installed"
            with session_scope(engine) as session:
                sent = push_results(session, scope, layout, f"{rest}/dicom-web", pseudonym)
            return f"SEG {sent.seg_uid[-12:]}, SR {sent.sr_uid[-12:]} sent and re-read"

        timed(steps, "outline", do_outline)
        timed(steps, "predict", do_predict)
        timed(steps, "report", do_report)
        timed(steps, "DICOM SEG+SR", do_push)
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--train-patients", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    steps = run(args.matrix, args.slices, args.train_patients)
    total = sum(seconds for _, seconds, _ in steps)
    print(f"{'total':<14} {total:7.1f} s  target < {TARGET_S:.0f} s: ratio {total / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
