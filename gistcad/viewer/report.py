"""The tumour board's one-page case report: a self-contained, printable HTML page.

The report prints the case card (:class:`~gistcad.analysis.case.CaseCard`), the same card the
case page shows, and the CT's key slice. Everything is embedded (the CT slice as a PNG data
URI, the styles inline), so the file can be mailed, opened offline and printed to PDF from any
browser on one A4 page. Values are escaped.

:func:`export_case_report` is the one way out of the dashboard for it: the case page's
download and ``gistcad report`` call it, and it is audited as an export.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from sqlalchemy.orm import Session

from gistcad.analysis.case import CaseCard, case_card
from gistcad.errors import GistcadError, NotFoundError
from gistcad.imaging import read_nifti
from gistcad.layout import DataLayout
from gistcad.store.exports import export_text
from gistcad.store.queries import case_rows, series_segmentations, shown_outline
from gistcad.store.scope import AccessScope
from gistcad.viewer.slices import (
    Plane,
    ViewVolume,
    extract,
    largest_slice,
    measure,
    render,
    slice_count,
    to_lps,
    window,
)

STYLE = """
@page { size: A4; margin: 14mm; }
body { font-family: Helvetica, Arial, sans-serif; font-size: 10.5pt; color: #222; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; } h2 { font-size: 11.5pt; margin: 4mm 0 1mm 0; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc;
padding: 1mm 2mm; text-align: left; vertical-align: top; }
.grid { display: flex; gap: 6mm; } .grid > div { flex: 1; }
.note { color: #8a5a00; background: #fff6dd; padding: 2mm; margin-top: 4mm; }
img { max-width: 80mm; image-rendering: pixelated; }
"""


@dataclass(frozen=True)
class KeySlice:
    """The report's picture: the axial slice with the largest tumour area, and measures."""

    picture: NDArray[np.uint8] | None = None
    caption: str = ""
    measures: Mapping[str, str] = field(default_factory=dict)


#: the report's window: soft tissue of the abdomen, W400/L50
REPORT_LEVEL, REPORT_WIDTH = 50.0, 400.0


def key_slice(image: ViewVolume, mask: ViewVolume | None) -> KeySlice:
    """The axial slice with the largest tumour area (the middle one without a mask), in the
    abdomen window, the tumour outlined, with its measures."""
    if mask is None:
        index = slice_count(image, Plane.AXIAL) // 2
        grey, aspect = extract(image, Plane.AXIAL, index)
        picture = render(window(grey, REPORT_LEVEL, REPORT_WIDTH), aspect, mask_opacity=0.0)
        return KeySlice(picture, "axial")
    index = largest_slice(mask, Plane.AXIAL)
    grey, aspect = extract(image, Plane.AXIAL, index)
    outline = extract(mask, Plane.AXIAL, index)[0]
    m = measure(image, mask)
    return KeySlice(
        render(window(grey, REPORT_LEVEL, REPORT_WIDTH), aspect, mask=outline, mask_opacity=0.35),
        f"axial slice {index + 1}, largest tumour area, W{REPORT_WIDTH:g}/L{REPORT_LEVEL:g}",
        {
            "Longest axial diameter": f"{m.longest_axial_diameter_mm:.0f} mm",
            "Mean attenuation": f"{m.mean_hu:.0f} HU",
            "Tumour volume": f"{m.volume_ml:.1f} mL",
        },
    )


def series_key_slice(
    layout: DataLayout, image: tuple[str, str], mask: tuple[str, str] | None
) -> KeySlice:
    """:func:`key_slice` of a stored series (``(path, sha256)``) and its tumour mask; an
    empty one when a file cannot be read (the report then says "No CT")."""
    try:
        view = to_lps(read_nifti(layout.resolve(image[0])))
        outline = None if mask is None else to_lps(read_nifti(layout.resolve(mask[0])))
    except GistcadError:
        return KeySlice()
    return key_slice(view, outline)


def png_data_uri(rgb: NDArray[np.uint8]) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _rows(pairs: Mapping[str, str]) -> str:
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs.items()
    )


def case_report_html(
    card: CaseCard, key: KeySlice | None = None, *, today: dt.date | None = None
) -> str:
    """The case card as one HTML document (see the module doc)."""
    e = html.escape
    assessment = card.assessment
    key = key or KeySlice()
    risk_rows = (
        "".join(
            f"<tr><td>{e(r.scheme)}</td><td>{e(r.risk)}</td><td>{e(r.notes)}</td></tr>"
            for r in card.risk_rows
        )
        if card.risk_rows
        else f"<tr><td colspan=3>{e(assessment.unclassified_reason or '')}</td></tr>"
    )
    recurrence = assessment.recurrence
    recurrence_html = (
        f"<p>{e(recurrence.summary)} <i>({e(recurrence.label)})</i></p>"
        f"<p><small>{e('; '.join((*recurrence.notes, *recurrence.limits)))}</small></p>"
        if recurrence
        else ""
    )
    if card.imaging_risk is not None:
        recurrence_html += f"<p>{e(card.imaging_risk.plain)}</p>"
    therapy = assessment.therapy
    others = (
        f"\n<p><small>Other schemes would change the call: "
        f"{e(' '.join(assessment.other_schemes))}</small></p>"
        if assessment.other_schemes
        else ""
    )
    image = (
        f'<img src="{png_data_uri(key.picture)}" alt="CT"><br><small>{e(key.caption)}</small>'
        if key.picture is not None
        else "<p>No CT imported.</p>"
    )
    panel = card.genotype_models
    recommended = (
        f"<p><b>{e(panel.recommendation)}</b></p><ul><li>{e(panel.recommended.plain)}</li></ul>"
        if panel.recommended is not None
        else ""
    )
    lines = [*(m.plain for m in panel.others), *(p.plain for p in card.other_predictions)]
    heading = "<p>Other models:</p>" if recommended and lines else ""
    predictions = (
        recommended + heading + ("<ul>" + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>")
        if lines
        else recommended or "<ul><li>none</li></ul>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(card.pseudonym)}</title>
<style>{STYLE}</style></head><body>
<h1>GIST case {e(card.pseudonym)} — {e(card.center)}</h1>
<small>Tumour board summary, {(today or dt.date.today()).isoformat()}. Pseudonymised.</small>
<div class="grid"><div>
<h2>Tumour</h2><table>{_rows(card.facts)}</table>
<h2>Risk of recurrence</h2><table><tr><th>scheme</th><th>risk</th><th>notes</th></tr>
{risk_rows}</table>{recurrence_html}
<h2>Genotype</h2><p>True genotype: {e(card.genotype_line)}</p>{predictions}
</div><div>
<h2>CT</h2>{image}
<table>{_rows(key.measures)}</table>
<h2>Follow-up</h2><p>{e(card.follow_up_line)}</p>
</div></div>
<h2>Therapy implication</h2>
<p>Imatinib sensitivity: <b>{e(therapy.imatinib_sensitivity.value)}</b>. {e(therapy.dose_note)}</p>
<p>Adjuvant imatinib: <b>{e(therapy.adjuvant.value)}</b>. {e(therapy.adjuvant_note)}</p>{others}
<p><small>Sources: {e("; ".join(therapy.sources))}</small></p>
<div class="note">{e(therapy.disclaimer)}</div>
</body></html>"""


#: what the audit trail calls the document
CASE_REPORT = "case report"


def export_case_report(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonym: str,
    *,
    series_uid: str | None = None,
    today: dt.date | None = None,
) -> str:
    """The printable case report of ``pseudonym`` (in ``scope``), recorded in the audit trail.

    Parameters
    ----------
    layout
        The data folder, where the series' volumes and masks lie.
    series_uid
        The series whose key slice is shown; default the newest.

    Raises
    ------
    NotFoundError
        No such patient in scope, or no such series of the patient.
    AccessDenied
        The caller's role may not view a case.
    """
    rows = case_rows(session, scope, pseudonym)
    key = KeySlice()
    series = rows.series
    if series_uid is not None:
        series = series[series["series_instance_uid"] == series_uid]
        if series.empty:
            raise NotFoundError(f"{pseudonym} has no series {series_uid!r}")
    if not series.empty:
        chosen = series.iloc[0]
        outline = shown_outline(series_segmentations(session, scope, int(chosen["series_id"])))
        mask = None if outline is None else (outline["path"], outline["sha256"])
        key = series_key_slice(layout, (chosen["volume_path"], chosen["volume_sha256"]), mask)
    text = case_report_html(case_card(rows), key, today=today)
    return export_text(session, scope, CASE_REPORT, text, patient=rows.pseudonym)
