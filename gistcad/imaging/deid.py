"""De-identification at the reading edge: copy only what the store needs, never who the patient is.

:func:`series_info` copies a whitelist of non-identifying attributes into a frozen
:class:`SeriesInfo`; nothing else of a DICOM header travels further into gistcad.
:func:`patient_key` is the one way out for the PatientID, which the importer replaces by a
pseudonym (:mod:`gistcad.ingest.pseudonym`) before anything is written.

Identifying attributes (:data:`IDENTIFYING_KEYWORDS`) are those of the DICOM PS3.15 Basic
Application Level Confidentiality Profile that a GIST CT export typically carries: the
patient's names, IDs, birth date, address and telephone numbers, the institution, the staff
(referring, performing, operating and reading physicians), the accession number, and
free-text comments. None is read by :func:`series_info`; and the free-text fields it does
copy (series description, model name, kernel) are dropped if they contain the value of one
of those attributes (a technologist may type the patient's name into a description). The
names of a mask's segments and ROIs are checked the same way (:func:`scrubbed_label`), against
the values of the mask's own header and of its CT's, and replaced by a neutral name.
Canonical NIfTI files carry no header text at all (see :mod:`gistcad.imaging.nifti_io`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pydicom.dataset import Dataset

from gistcad.domain import ContrastPhase
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

#: DICOM keywords that identify a patient or a person; never copied out of a header.
IDENTIFYING_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientBirthName",
        "PatientMotherBirthName",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "MilitaryRank",
        "MedicalRecordLocator",
        "PatientComments",
        "AdditionalPatientHistory",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "ReferringPhysicianName",
        "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers",
        "PerformingPhysicianName",
        "NameOfPhysiciansReadingStudy",
        "PhysiciansOfRecord",
        "RequestingPhysician",
        "OperatorsName",
        "AccessionNumber",
        "StudyID",
        "StationName",
        "DeviceSerialNumber",
        "ImageComments",
        "StudyComments",
        "RequestAttributesSequence",
    }
)

#: Attributes whose values are searched for in the free-text fields copied into SeriesInfo.
_PHI_PROBE_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "PatientBirthDate",
    "AccessionNumber",
    "InstitutionName",
    "ReferringPhysicianName",
    "OperatorsName",
    "PerformingPhysicianName",
)

#: Words in a series description or contrast agent text → contrast phase; first match wins.
_PHASE_PATTERNS: tuple[tuple[ContrastPhase, re.Pattern[str]], ...] = (
    (
        ContrastPhase.NON_CONTRAST,
        re.compile(
            r"\b(non[- ]?contrast|w/?o\b|without|native|nativ|plain|blanco|"
            r"unenhanced|pre[- ]?contrast|non[- ]?enhanced|nc|ncct)\b"
        ),
    ),
    (ContrastPhase.ARTERIAL, re.compile(r"\b(arterial|arteriel|art|angio|cta)\b")),
    (
        ContrastPhase.PORTAL_VENOUS,
        re.compile(r"\b(portal|venous|veneu\w*|ven\w*|pv|pvp|vp)\b"),
    ),
    (
        ContrastPhase.DELAYED,
        re.compile(r"\b(delayed|delay|late|equilibrium|excretory|urographic)\b"),
    ),
)


@dataclass(frozen=True)
class SeriesInfo:
    """Non-identifying facts about one CT series, as the store keeps them.

    Attributes
    ----------
    study_instance_uid, series_instance_uid, frame_of_reference_uid
        DICOM UIDs (not identifying: generated per study; kept to link masks and re-imports).
    modality
        DICOM Modality, e.g. ``"CT"``.
    series_description
        SeriesDescription, or ``None`` if absent or if it contained identifying text.
    contrast_phase
        Guessed from the description and ContrastBolusAgent (:func:`guess_contrast_phase`).
    acquisition_date, study_date
        AcquisitionDate / StudyDate, or ``None``.
    manufacturer, manufacturer_model_name
        Scanner vendor and model.
    kvp
        Peak tube voltage in kV, or ``None``.
    slice_thickness_mm
        Nominal reconstructed slice thickness in mm (not the slice spacing), or ``None``.
    convolution_kernel
        Reconstruction kernel, several values joined with ``"\\"``, or ``None``.
    """

    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str | None
    modality: str
    series_description: str | None
    contrast_phase: ContrastPhase
    acquisition_date: date | None
    study_date: date | None
    manufacturer: str | None
    manufacturer_model_name: str | None
    kvp: float | None
    slice_thickness_mm: float | None
    convolution_kernel: str | None


def _source(dataset: Dataset) -> str:
    return str(getattr(dataset, "filename", None) or "<dataset>")


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.strip()
    return text or None


def _number(dataset: Dataset, keyword: str) -> float | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        logger.warning("%s: %s %r is not a number; ignored", _source(dataset), keyword, value)
        return None


def _date(dataset: Dataset, keyword: str) -> date | None:
    text = _text(dataset, keyword)
    if text is None:
        return None
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if match is None:
        logger.warning(
            "%s: %s %r is not a DICOM date YYYYMMDD; ignored", _source(dataset), keyword, text
        )
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        logger.warning("%s: %s %r is not a valid date; ignored", _source(dataset), keyword, text)
        return None


def identifying_values(dataset: Dataset) -> frozenset[str]:
    """Lower-cased values (and name parts) of a header's identifying attributes, 3 characters
    or more: what free text copied out of a header must not contain.

    IDENTIFYING: use them to scrub text, never store, log or show them.
    """
    values: set[str] = set()
    for keyword in _PHI_PROBE_KEYWORDS:
        text = _text(dataset, keyword)
        if text is None:
            continue
        values.add(text.lower())
        values.update(part.lower() for part in re.split(r"[\^\\ ,]+", text))
    return frozenset(v for v in values if len(v) >= 3)


def holds_identifying_text(text: str, phi: Iterable[str]) -> bool:
    """Whether ``text`` contains one of the :func:`identifying_values` ``phi`` (any case)."""
    lowered = text.lower()
    return any(value in lowered for value in phi)


def scrubbed_label(label: str, phi: Iterable[str], neutral: str) -> str:
    """A mask's segment or ROI name as it may be stored: ``label`` itself, or ``neutral``
    (e.g. ``"ROI 7"``) when it contains one of the identifying values ``phi``.

    >>> scrubbed_label("GIST Jansen", {"jansen", "piet"}, "ROI 7")
    'ROI 7'
    >>> scrubbed_label("GIST", {"jansen", "piet"}, "ROI 7")
    'GIST'
    """
    return neutral if holds_identifying_text(label, phi) else label


def _scrubbed(dataset: Dataset, keyword: str, phi: Iterable[str]) -> str | None:
    text = _text(dataset, keyword)
    if text is None:
        return None
    if holds_identifying_text(text, phi):
        logger.warning("%s: %s contains identifying text; not copied", _source(dataset), keyword)
        return None
    return text


def guess_contrast_phase(description: str | None, contrast_agent: str | None) -> ContrastPhase:
    """Guess the contrast phase from the series description, then the contrast agent text.

    Absence of a contrast agent does not prove a non-contrast scan (the attribute is often
    left empty), so it gives :attr:`ContrastPhase.UNKNOWN`, as does any text that names no
    phase.

    >>> guess_contrast_phase("ABD PORTAL VENOUS 1.5mm", None)
    <ContrastPhase.PORTAL_VENOUS: 'portal_venous'>
    >>> guess_contrast_phase("Abdomen 5mm", None)
    <ContrastPhase.UNKNOWN: 'unknown'>
    """
    for text in (description, contrast_agent):
        if not text:
            continue
        words = re.sub(r"[_\-+.]", " ", text.lower())
        for phase, pattern in _PHASE_PATTERNS:
            if pattern.search(words):
                return phase
    return ContrastPhase.UNKNOWN


def series_info(dataset: Dataset) -> SeriesInfo:
    """Copy the non-identifying attributes the store needs out of one header.

    Parameters
    ----------
    dataset
        A header of the series (pixels not needed). Must hold StudyInstanceUID,
        SeriesInstanceUID and Modality.

    Raises
    ------
    ValidationError
        If a required UID or the Modality is missing; the message names the file and tag.
    """
    required = {
        "StudyInstanceUID": "(0020,000D)",
        "SeriesInstanceUID": "(0020,000E)",
        "Modality": "(0008,0060)",
    }
    for keyword, tag in required.items():
        if _text(dataset, keyword) is None:
            raise ValidationError(
                f"{_source(dataset)}: {keyword} {tag} is missing or empty; every DICOM image "
                "must have it. Re-export the series from the PACS or scanner."
            )
    phi = identifying_values(dataset)
    description = _scrubbed(dataset, "SeriesDescription", phi)
    agent = _scrubbed(dataset, "ContrastBolusAgent", phi)
    return SeriesInfo(
        study_instance_uid=str(dataset.StudyInstanceUID).strip(),
        series_instance_uid=str(dataset.SeriesInstanceUID).strip(),
        frame_of_reference_uid=_text(dataset, "FrameOfReferenceUID"),
        modality=str(dataset.Modality).strip(),
        series_description=description,
        contrast_phase=guess_contrast_phase(description, agent),
        acquisition_date=_date(dataset, "AcquisitionDate"),
        study_date=_date(dataset, "StudyDate"),
        manufacturer=_scrubbed(dataset, "Manufacturer", phi),
        manufacturer_model_name=_scrubbed(dataset, "ManufacturerModelName", phi),
        kvp=_number(dataset, "KVP"),
        slice_thickness_mm=_number(dataset, "SliceThickness"),
        convolution_kernel=_scrubbed(dataset, "ConvolutionKernel", phi),
    )


def patient_key(dataset: Dataset) -> str:
    """The PatientID (0010,0020) as written, for the importer to pseudonymise.

    The returned value is identifying: it must be replaced by a pseudonym before it is stored,
    logged or shown.

    Raises
    ------
    ValidationError
        If PatientID is absent or empty.
    """
    value = _text(dataset, "PatientID")
    if value is None:
        raise ValidationError(
            f"{_source(dataset)}: PatientID (0010,0020) is missing or empty, so the series "
            "cannot be assigned to a patient. Re-export with patient IDs, or import the "
            "series into a patient named explicitly."
        )
    return value
