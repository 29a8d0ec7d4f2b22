"""The tumour board's one-page case report: a self-contained, printable HTML page.

Everything is embedded (the CT slice as a PNG data URI, the styles inline), so the file can be
mailed, opened offline and printed to PDF from any browser on one A4 page. Values are escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from PIL import Image

from gistcad.analysis.case import CaseAssessment
from gistcad.analysis.prediction_source import prediction_text
from gistcad.store.queries import PatientRecord

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
class CaseFacts:
    """What the report states about the patient (no identifying data: the pseudonym only)."""

    pseudonym: str
    center: str
    facts: Mapping[str, str]  # label -> value, e.g. "Site" -> "stomach"
    genotype: str
    predictions: Sequence[str]  # one line per model
    follow_up: str


def display_value(value: object, unit: str = "") -> str:
    """A stored value as the pages print it: "unknown" for missing, ``g`` format for numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"{value:g}{unit}" if isinstance(value, int | float) else f"{value}{unit}"


def mitotic_unit_text(unit: object) -> str:
    """``per_50hpf`` → "/ 50 HPF", ``per_5mm2`` → "/ 5mm2"."""
    return str(unit or "").replace("per_", "/ ").replace("hpf", " HPF")


def case_facts(record: PatientRecord, predictions: pd.DataFrame) -> CaseFacts:
    """The report's statements about one patient (primary tumour, predictions, follow-up)."""
    v = display_value
    tumour = record.tumours.iloc[0].to_dict() if not record.tumours.empty else {}
    outcome = record.outcome or {}
    unit = mitotic_unit_text(tumour.get("mitotic_unit"))
    return CaseFacts(
        pseudonym=record.pseudonym,
        center=record.center,
        facts={
            "Site": f"{v(tumour.get('site'))} ({v(tumour.get('sub_site'))})",
            "Size": v(tumour.get("size_cm"), " cm"),
            "Mitoses": f"{v(tumour.get('mitotic_count'))} {unit}".strip(),
            "Rupture": {1: "yes", 0: "no"}.get(int(tumour["rupture"]), "unknown")
            if tumour.get("rupture") is not None
            else "unknown",
            "Histology": v(tumour.get("histology")),
            "Sex, age": f"{v(record.sex)}, {v(record.age_at_diagnosis, ' y')}",
        },
        genotype=f"{v(tumour.get('genotype_detail') or 'unknown')} "
        f"({v(tumour.get('genotype_text'))})",
        predictions=[prediction_text(r).plain for r in predictions.to_dict(orient="records")],
        follow_up=f"RFS {v(outcome.get('rfs_months'), ' months')}, "
        f"OS {v(outcome.get('os_months'), ' months')}, last follow-up "
        f"{v(outcome.get('last_follow_up'))}",
    )


def png_data_uri(rgb: NDArray[np.uint8]) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _rows(pairs: Mapping[str, str]) -> str:
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs.items()
    )


def case_report_html(
    facts: CaseFacts,
    assessment: CaseAssessment,
    *,
    ct_slice: NDArray[np.uint8] | None = None,
    ct_caption: str = "",
    measures: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> str:
    """The report as one HTML document (see the module doc)."""
    e = html.escape
    risk_rows = (
        "".join(
            f"<tr><td>{e(s.value)}</td><td>{e(a.label)}</td><td>{e('; '.join(a.notes))}</td></tr>"
            for s, a in assessment.risks.items()
        )
        if assessment.risks
        else f"<tr><td colspan=3>{e(assessment.unclassified_reason or '')}</td></tr>"
    )
    recurrence = assessment.recurrence
    recurrence_html = (
        f"<p>{e(recurrence.summary)} <i>({e(recurrence.label)})</i></p>"
        f"<p><small>{e('; '.join((*recurrence.notes, *recurrence.limits)))}</small></p>"
        if recurrence
        else ""
    )
    therapy = assessment.therapy
    others = (
        f"\n<p><small>Other schemes would change the call: "
        f"{e(' '.join(assessment.other_schemes))}</small></p>"
        if assessment.other_schemes
        else ""
    )
    image = (
        f'<img src="{png_data_uri(ct_slice)}" alt="CT"><br><small>{e(ct_caption)}</small>'
        if ct_slice is not None
        else "<p>No CT imported.</p>"
    )
    predictions = "".join(f"<li>{e(p)}</li>" for p in facts.predictions) or "<li>none</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(facts.pseudonym)}</title>
<style>{STYLE}</style></head><body>
<h1>GIST case {e(facts.pseudonym)} — {e(facts.center)}</h1>
<small>Tumour board summary, {(today or dt.date.today()).isoformat()}. Pseudonymised.</small>
<div class="grid"><div>
<h2>Tumour</h2><table>{_rows(facts.facts)}</table>
<h2>Risk of recurrence</h2><table><tr><th>scheme</th><th>risk</th><th>notes</th></tr>
{risk_rows}</table>{recurrence_html}
<h2>Genotype</h2><p>True genotype: {e(facts.genotype)}</p><ul>{predictions}</ul>
</div><div>
<h2>CT</h2>{image}
<table>{_rows(measures or {})}</table>
<h2>Follow-up</h2><p>{e(facts.follow_up)}</p>
</div></div>
<h2>Therapy implication</h2>
<p>Imatinib sensitivity: <b>{e(therapy.imatinib_sensitivity.value)}</b>. {e(therapy.dose_note)}</p>
<p>Adjuvant imatinib: <b>{e(therapy.adjuvant.value)}</b>. {e(therapy.adjuvant_note)}</p>{others}
<p><small>Sources: {e("; ".join(therapy.sources))}</small></p>
<div class="note">{e(therapy.disclaimer)}</div>
</body></html>"""
