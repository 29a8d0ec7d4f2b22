"""Two treated patients with follow-up CT, clinical rows and a treatment line, for the use
cases and the pages of treatment response.

The patients of tests/followup/test_assessment.py (sizes and HU by hand there): A-001 (center
Alpha, KIT exon 11; RECIST SD and Choi PR at follow-up 1, PD by both at follow-up 2: a new
liver lesion) and B-001 (center Beta, PDGFRA; PR by both at follow-up 1). Imatinib 400 mg/day
starts on the baseline day and stops at surgery, 300 days later; recurrence-free survival from
surgery: A-001 recurs at 5 months, B-001 is censored at 20. C-001 (center Beta, KIT exon 9)
has the baseline CT only: no response.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from gistcad.domain import Drug, GenotypeDetail, LesionOrgan, MitosisUnit, Site
from gistcad.followup import assess_cohort
from gistcad.layout import DataLayout
from gistcad.store import AccessScope
from gistcad.store.models import Outcome, Treatment, TreatmentLine, Tumour
from tests.factories import add_center
from tests.followup.builders import START, Seen, Spec, add_followup_patient

SURGERY = START + dt.timedelta(days=300)


def _clinical(
    s: Session, patient_id: int, genotype: GenotypeDetail, rfs: float, event: int
) -> None:
    s.add(
        Tumour(
            patient_id=patient_id,
            genotype_detail=genotype,
            site=Site.STOMACH,
            size_cm=12.0,
            mitotic_count=4,
            mitotic_unit=MitosisUnit.PER_5_MM2,
        )
    )
    s.add(Treatment(patient_id=patient_id, surgery_date=SURGERY, neoadjuvant_imatinib=1))
    s.add(
        Outcome(patient_id=patient_id, rfs_months=rfs, rfs_event=event, os_months=30.0, os_event=0)
    )
    s.add(
        TreatmentLine(
            patient_id=patient_id,
            line=1,
            drug=Drug.IMATINIB,
            dose_mg_per_day=400,
            start_date=START,
            stop_date=SURGERY,
        )
    )


def add_treated_patients(s: Session, data_dir: Path) -> None:
    """A-001, B-001 and C-001 with their masks in ``data_dir``, assessed (automatic categories)."""
    alpha, beta = add_center(s, "Alpha"), add_center(s, "Beta")
    a = add_followup_patient(
        s,
        data_dir,
        alpha,
        "A-001",
        {1: Spec(LesionOrgan.LIVER), 2: Spec(LesionOrgan.STOMACH), 3: Spec(LesionOrgan.LIVER)},
        [
            {1: Seen(21, 80), 2: Seen(11, 70)},
            {1: Seen(20, 60), 2: Seen(11, 50)},
            {1: Seen(21, 80), 2: Seen(11, 70), 3: Seen(6, 60)},
        ],
    )
    b = add_followup_patient(
        s,
        data_dir,
        beta,
        "B-001",
        {1: Spec(LesionOrgan.PERITONEUM)},
        [{1: Seen(21, 70)}, {1: Seen(14, 70)}],
    )
    c = add_followup_patient(
        s, data_dir, beta, "C-001", {1: Spec(LesionOrgan.STOMACH)}, [{1: Seen(15, 60)}]
    )
    _clinical(s, a.id, GenotypeDetail.KIT11_DEL_557_558, 5.0, 1)
    _clinical(s, c.id, GenotypeDetail.KIT9, 8.0, 0)
    _clinical(s, b.id, GenotypeDetail.PDGFRA_OTHER, 20.0, 0)
    assess_cohort(s, AccessScope.everything(user="operator"), DataLayout(data_dir))
