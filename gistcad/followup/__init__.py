"""Follow the patient in time: lesion measurements and treatment response, as use cases.

The command (``gistcad response``), the pages and the job worker call these functions alike:

- :func:`~gistcad.followup.assessment.assess_patient` and
  :func:`~gistcad.followup.assessment.assess_cohort`: measure every lesion at every timepoint
  from its mask and store the RECIST 1.1 and Choi categories (automatic);
- :func:`~gistcad.followup.overrides.override_measurement` and
  :func:`~gistcad.followup.overrides.override_category`: a reader's value, with a reason,
  kept beside the automatic one and audited;
- :func:`~gistcad.followup.report.patient_response` and
  :func:`~gistcad.followup.report.cohort_response`: what the case view and the cohort show.

The criteria themselves are pure functions in :mod:`gistcad.analysis.response`; the lesion
numbers come from :mod:`gistcad.imaging.lesion_measures`.
"""

from gistcad.followup.assessment import AssessRun, CohortRun, assess_cohort, assess_patient
from gistcad.followup.overrides import MeasurementOverride, override_category, override_measurement
from gistcad.followup.report import PatientResponse, cohort_response, patient_response

__all__ = [
    "AssessRun",
    "CohortRun",
    "MeasurementOverride",
    "PatientResponse",
    "assess_cohort",
    "assess_patient",
    "cohort_response",
    "override_category",
    "override_measurement",
    "patient_response",
]
