"""``gistcad pacs push``: a case's tumour segmentation and results back to the PACS.

The series' stored segmentation becomes a DICOM SEG, its measurements
(:func:`gistcad.imaging.lesion_measures.measure_volume`) and the newest genotype prediction a
TID 1500 SR (:mod:`gistcad.imaging.dicom_export`); both are read back and checked before
they are sent (STOW-RS). They refer to the CT as the PACS holds it: the store keeps the
series' and study's instance UIDs but not the instances', so the PACS's headers of that
series are read at push time (WADO-RS metadata) — the patient module they carry goes back
to the PACS and is not kept here. The push is audited as an export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gistcad.analysis.case import GENOTYPE_TARGETS
from gistcad.analysis.prediction_source import PredictionSource, standing_prediction
from gistcad.domain import (
    SEGMENTATION_SOURCE_LABELS,
    GenotypeClass,
    Permission,
    SegmentationSource,
)
from gistcad.errors import NotFoundError, ValidationError
from gistcad.imaging import read_mask, read_nifti
from gistcad.imaging.dicom_export import (
    CaseResults,
    GenotypeCall,
    build_seg,
    build_sr,
    encode,
    mask_on_sources,
    reread_seg,
    reread_sr,
)
from gistcad.imaging.lesion_measures import measure_volume
from gistcad.layout import DataLayout
from gistcad.pacs.dicomweb import check_url, series_metadata, store
from gistcad.store import AccessScope, audit
from gistcad.store.queries import case_rows, series_segmentations

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    """What was sent: the SEG's and SR's SOP instance UIDs, the CT they refer to, the SR's
    values by concept name."""

    study_uid: str
    series_uid: str
    seg_uid: str
    sr_uid: str
    values: dict[str, float | str]
    #: the outline sent: its name and who made it, and the newer outlines passed over
    outline: str = ""
    passed_over: int = 0

    def summary(self) -> str:
        shown = "; ".join(
            f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in self.values.items()
        )
        sent = f" of the outline {self.outline}" if self.outline else ""
        if self.passed_over:
            sent += (
                f" ({self.passed_over} newer outline(s) made by a program passed over: a SEG "
                "cannot name their maker)"
            )
        return (
            f"sent a DICOM SEG{sent} ({self.seg_uid}) and SR ({self.sr_uid}) for series "
            f"{self.series_uid} of study {self.study_uid}: {shown}"
        )


#: the binary KIT exon 11 models' classes (:class:`gistcad.modelling.targets.Target`)
_BINARY_LABELS = {"kit11": "KIT exon 11", "not_kit11": "Not KIT exon 11"}

#: The outlines not sent back as a DICOM SEG, and why (after "the newest segmentation of this
#: series"): a SEG names who made it, and gistcad can name only a reader or its own region
#: growing. The push sends the newest other outline of the series, and is refused only when
#: there is none.
NOT_SENT = {
    SegmentationSource.MODEL: (
        "was drawn by a model: sending a model's outline as a DICOM SEG (automatic, with the "
        "model's name) is not supported yet"
    ),
    SegmentationSource.IMPORTED_AUTOMATIC: (
        "was made by another program without a reader and imported: it is not sent back as a "
        "reader's outline; outline the tumour on the case page, or import a reader's outline"
    ),
    SegmentationSource.IMPORTED_SEMI_AUTOMATIC: (
        "was made semi-automatically by another program and imported: its SEG would have to "
        "name that program, which the import does not keep; outline the tumour on the case "
        "page, or send the SEG from the program that made it"
    ),
}


def _class_label(code: str) -> str:
    try:
        return GenotypeClass(code).label
    except ValueError:
        return _BINARY_LABELS.get(code, code)


def genotype_call(predictions: Any, series_id: int | None = None) -> GenotypeCall | None:
    """The genotype prediction the SR reports beside the tumour of ``series_id``, or None.

    ``predictions``: rows of :func:`~gistcad.store.model_queries.patient_predictions`, newest
    first. Only a prediction made from that series (or from no image, a clinical model's)
    counts: a prediction from another study's CT does not describe the segment the SR points
    to. For a model trained on the patient the out-of-fold prediction stands for them; a
    model whose only prediction of the patient is in-sample is passed over (the SR would
    report what the model was fitted to). The algorithm's version names the model's
    registration date and which prediction it is ("out-of-fold"; "final" for a patient the
    model was not trained on; "final, training unknown" for a model that does not record its
    training patients).
    """
    if predictions.empty:
        return None
    rows = predictions[predictions["target"].isin(GENOTYPE_TARGETS)]
    rows = rows[rows["predicted_class"].notna()]
    if series_id is not None and "series_id" in rows:
        rows = rows[rows["series_id"].isna() | (rows["series_id"] == series_id)]
    for row in rows.to_dict(orient="records"):
        standing = standing_prediction(row)
        if standing is None:
            continue
        if standing.out_of_fold:
            how = "out-of-fold"
        elif standing.source is PredictionSource.FINAL_UNSEEN:
            how = "final"
        else:
            how = "final, training unknown"
        probabilities, code = standing.probabilities, standing.predicted_class
        registered = row.get("model_created_at")
        version = f"registered {registered:%Y-%m-%d}, {how}" if registered is not None else how
        return GenotypeCall(
            predicted_class=str(code),
            label=_class_label(str(code)),
            probability=float(probabilities.get(code, float("nan"))),
            model=str(row["model"]),
            version=version,
        )
    return None


def push_results(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    url: str,
    pseudonym: str,
    *,
    series_uid: str | None = None,
) -> PushResult:
    """Send the SEG and SR of ``pseudonym``'s series (default: the newest) to the PACS.

    Raises
    ------
    NotFoundError
        No such patient or series in scope.
    ValidationError
        The series has no stored segmentation that can be sent (:data:`NOT_SENT`).
    PacsError
        The PACS does not answer, does not hold the series, or refuses the objects.
    ImagingError
        The objects did not read back as written (nothing was sent).
    AccessDenied
        The caller may not import (a PACS exchange is a data manager's right).
    """
    scope.require(Permission.IMPORT_DATA)
    check_url(url)
    rows = case_rows(session, scope, pseudonym)
    series = rows.series
    if series_uid is not None:
        series = series[series["series_instance_uid"] == series_uid]
    if series.empty:
        raise NotFoundError(
            f"{pseudonym} has no CT series"
            + (f" {series_uid!r}" if series_uid else "")
            + "; import one first"
        )
    chosen = series.iloc[0]
    masks = series_segmentations(session, scope, int(chosen["series_id"]))
    if masks.empty:
        raise ValidationError(
            f"series {chosen['series_instance_uid']} of {pseudonym} has no stored tumour "
            "segmentation; outline the tumour first"
        )
    sendable = masks[~masks["source"].astype(str).isin([s.value for s in NOT_SENT])]
    if sendable.empty:  # say why of the newest
        made_by = SegmentationSource(str(masks.iloc[-1]["source"]))
        raise ValidationError(f"the newest segmentation of this series {NOT_SENT[made_by]}")
    mask_row = sendable.iloc[-1]  # the newest that can be sent as what it is
    made_by = SegmentationSource(str(mask_row["source"]))
    image = read_nifti(layout.resolve(str(chosen["volume_path"])))
    mask = read_mask(layout.resolve(str(mask_row["path"])), image)
    results = CaseResults(
        measures=measure_volume(image, mask, source=pseudonym),
        genotype=genotype_call(rows.predictions, int(chosen["series_id"])),
        semi_automatic=made_by is SegmentationSource.SEMI_AUTOMATIC,
    )
    study_uid = str(chosen["study_instance_uid"])
    uid = str(chosen["series_instance_uid"])
    sources = series_metadata(url, study_uid, uid)
    seg = build_seg(sources, mask, semi_automatic=results.semi_automatic)
    seg_bytes = encode(seg)
    _, frames = mask_on_sources(mask, sources)
    reread_seg(seg_bytes, sources, frames)
    sr = build_sr(sources, seg, results)
    values = reread_sr(encode(sr), seg, results)
    store(url, [seg, sr])
    audit.record(
        session,
        scope.user,
        "export",
        target_kind="patient",
        target=rows.pseudonym,
        detail={"document": "DICOM SEG and SR", "to": "PACS", "series": uid},
    )
    logger.info("sent SEG %s and SR %s for series %s", seg.SOPInstanceUID, sr.SOPInstanceUID, uid)
    return PushResult(
        study_uid,
        uid,
        str(seg.SOPInstanceUID),
        str(sr.SOPInstanceUID),
        values,
        outline=f"{mask_row['label']!r} ({SEGMENTATION_SOURCE_LABELS[made_by]})",
        passed_over=int((masks["segmentation_id"] > mask_row["segmentation_id"]).sum()),
    )
