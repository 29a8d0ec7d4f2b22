"""DICOMweb calls (QIDO-RS, WADO-RS, STOW-RS) with the ``dicomweb-client`` library.

Every network failure becomes one :class:`PacsError` line naming the server and what to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from gistcad.errors import GistcadError, ValidationError

logger = logging.getLogger(__name__)

#: Seconds to wait for the PACS to answer one request.
TIMEOUT_S = 30.0
#: Tries of one request when the server is busy or unreachable.
RETRIES = 3
#: Modalities a pull retrieves: the CT and any mask objects made elsewhere.
PULLED_MODALITIES = ("CT", "SEG", "RTSTRUCT")
#: SeriesDescription of what :mod:`gistcad.pacs.push` sends; never pulled back as a mask.
RESULTS_DESCRIPTION_PREFIX = "gistcad"


class PacsError(GistcadError):
    """The PACS did not answer, or answered with an error; nothing was changed."""


@dataclass(frozen=True)
class StudySummary:
    """One study as the PACS lists it (QIDO-RS), to choose what to pull.

    ``patient_id`` and ``accession`` are the PACS's own identifiers: shown to the user who
    chooses, never stored.
    """

    study_uid: str
    date: dt.date | None
    description: str
    modalities: tuple[str, ...]
    series_count: int | None
    instance_count: int | None
    patient_id: str
    accession: str


def _value(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or []
    return values[0] if values else None


def _values(item: dict[str, Any], tag: str) -> list[Any]:
    return list(item.get(tag, {}).get("Value") or [])


def _date(text: Any) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(text)[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def check_url(url: str) -> str:
    """The DICOMweb base URL, trimmed; refused unless it is http(s)://host/..."""
    text = url.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text.split("/")) < 3:
        raise ValidationError(
            f"--url {url!r} is not a DICOMweb address; give the service root, e.g. "
            "http://pacs.example.org:8042/dicom-web"
        )
    return text


@contextmanager
def answering(url: str) -> Iterator[None]:
    """Turn the HTTP library's failures into one :class:`PacsError` line."""
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise PacsError(
            f"the PACS at {url} does not answer (no connection); check the URL and that the "
            "DICOMweb service is running, then try again"
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise PacsError(
            f"the PACS at {url} did not answer within {TIMEOUT_S:.0f} s; try again later"
        ) from exc
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise PacsError(
            f"the PACS at {url} refused the request (HTTP {status}); check the URL (the "
            "DICOMweb root, e.g. .../dicom-web) and your access to it"
        ) from exc


def connect(url: str) -> DICOMwebClient:
    """A DICOMweb client for the service root ``url``."""
    base = check_url(url)
    session = requests.Session()
    original = session.request

    def with_timeout(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TIMEOUT_S)
        return original(*args, **kwargs)

    session.request = with_timeout  # type: ignore[method-assign]
    client = DICOMwebClient(url=base, session=session)
    # a busy server (429, 503, ...) is asked again, briefly: not the library's default of five
    # tries over half a minute, so that a PACS that does not answer is reported in seconds
    client.set_http_retry_params(max_attempts=RETRIES, wait_exponential_multiplier=250)
    return client


def find_studies(
    url: str,
    *,
    patient_id: str | None = None,
    accession: str | None = None,
    study_date: str | None = None,
    limit: int = 100,
) -> list[StudySummary]:
    """Search the PACS for studies (QIDO-RS), newest first.

    Parameters
    ----------
    study_date
        A DICOM date or range: ``20240131`` or ``20240101-20240131``.

    Raises
    ------
    PacsError
        The PACS does not answer or refuses.
    ValidationError
        A malformed URL or date.
    """
    filters: dict[str, str] = {}
    if patient_id:
        filters["PatientID"] = patient_id.strip()
    if accession:
        filters["AccessionNumber"] = accession.strip()
    if study_date:
        text = study_date.strip()
        if not all(_date(part) for part in text.split("-") if part) or not text.strip("-"):
            raise ValidationError(
                f"--study-date {study_date!r}: give a date YYYYMMDD or a range "
                "YYYYMMDD-YYYYMMDD, e.g. 20240101-20240131"
            )
        filters["StudyDate"] = text
    client = connect(url)
    fields = ["StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries"]
    fields.append("NumberOfStudyRelatedInstances")
    with answering(url):
        found = client.search_for_studies(search_filters=filters, fields=fields, limit=limit)
    studies = [
        StudySummary(
            study_uid=str(_value(item, "0020000D") or ""),
            date=_date(_value(item, "00080020") or ""),
            description=str(_value(item, "00081030") or ""),
            modalities=tuple(str(v) for v in _values(item, "00080061")),
            series_count=_int(_value(item, "00201206")),
            instance_count=_int(_value(item, "00201208")),
            patient_id=str(_value(item, "00100020") or ""),
            accession=str(_value(item, "00080050") or ""),
        )
        for item in found
    ]
    return sorted(studies, key=lambda s: s.date or dt.date.min, reverse=True)


def _series_to_pull(client: DICOMwebClient, url: str, study_uid: str) -> list[dict[str, Any]]:
    with answering(url):
        try:
            series = client.search_for_series(
                study_instance_uid=study_uid, fields=["SeriesDescription", "Modality"]
            )
        except requests.exceptions.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                series = []
            else:
                raise
    if not series:
        raise PacsError(
            f"the PACS at {url} has no study {study_uid}; list the studies with "
            "'gistcad pacs find' and copy the study UID"
        )
    wanted = [
        s
        for s in series
        if _value(s, "00080060") in PULLED_MODALITIES
        and not str(_value(s, "0008103E") or "").startswith(RESULTS_DESCRIPTION_PREFIX)
    ]
    if not any(_value(s, "00080060") == "CT" for s in wanted):
        found = sorted({str(_value(s, "00080060")) for s in series})
        raise PacsError(
            f"study {study_uid} has no CT series (it holds {', '.join(found)}); nothing was "
            "imported. Choose a study with a CT"
        )
    return wanted


def pull_study(
    url: str,
    study_uid: str,
    folder: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Retrieve a study's CT (and any SEG/RTSTRUCT masks) into ``folder`` (WADO-RS).

    ``folder`` should be private and outside the data folder (the files carry the patient's
    identity); the caller imports it and removes it. Returns the number of files written.

    Raises
    ------
    PacsError
        The PACS does not answer, has no such study, or the study has no CT.
    """
    client = connect(url)
    written = 0
    for series in _series_to_pull(client, url, study_uid):
        series_uid = str(_value(series, "0020000E"))
        with answering(url):
            for dataset in client.iter_series(study_uid, series_uid):
                dataset.save_as(folder / f"{written:06d}.dcm", enforce_file_format=True)
                written += 1
                if progress:
                    progress(1)
    logger.info("retrieved %d instance(s) of study %s", written, study_uid)
    return written


def series_metadata(url: str, study_uid: str, series_uid: str) -> list[Dataset]:
    """The PACS's headers (no pixel data) of every instance of one series (WADO-RS metadata).

    Raises
    ------
    PacsError
        The PACS does not answer or does not hold the series.
    """
    client = connect(url)
    with answering(url):
        try:
            items = client.retrieve_series_metadata(study_uid, series_uid)
        except requests.exceptions.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                items = []
            else:
                raise
    if not items:
        raise PacsError(
            f"the PACS at {url} does not hold series {series_uid} of study {study_uid}, the "
            "CT the results refer to; pull it there first or choose the PACS it came from"
        )
    # pixel data and other bulk data are offered by URI: not needed for headers, left out
    return [
        Dataset.from_json({tag: v for tag, v in item.items() if "BulkDataURI" not in v})
        for item in items
    ]


def store(url: str, datasets: Sequence[Dataset]) -> None:
    """Send ``datasets`` to the PACS (STOW-RS).

    Raises
    ------
    PacsError
        The PACS does not answer or refuses them.
    """
    client = connect(url)
    with answering(url):
        client.store_instances(list(datasets))
