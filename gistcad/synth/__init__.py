"""The synthetic multi-center GIST cohort: the demo, test and benchmark data.

The generator writes what a consortium of centers would send (DICOM CT series, tumour masks,
clinical spreadsheets) and an ``oracle.csv`` that measures models but is never imported.

Modules:

- :mod:`~gistcad.synth.params`: default parameters of the cohort, each with its source;
- :mod:`~gistcad.synth.centers`: the consortium's centers (scanner, case mix, export habits);
- :mod:`~gistcad.synth.clinical`: one row per patient, the clinical model drawn in order;
- :mod:`~gistcad.synth.phenotype`: the latent imaging phenotype, its densities and draws;
- :mod:`~gistcad.synth.survival_model`: adjuvant imatinib, recurrence, death, follow-up;
- :mod:`~gistcad.synth.prognostic_trait`: the planted imaging trait of recurrence (texture
  grain, hazard ratio per SD);
- :mod:`~gistcad.synth.prognosis`: each patient's true recurrence model and the RFS C-index
  ceilings;
- :mod:`~gistcad.synth.follow_up`: neoadjuvant imatinib, follow-up CT dates, lesion response;
- :mod:`~gistcad.synth.oracle`: the exact Bayes posterior and its ceiling AUCs;
- :mod:`~gistcad.synth.shapes`: analytic phantom shapes and their rasterising on slabs;
- :mod:`~gistcad.synth.anatomy`: the abdominal organ template of one patient and its jitter;
- :mod:`~gistcad.synth.tissues`: HU of each tissue for a scanner and contrast timing;
- :mod:`~gistcad.synth.tumour`: the tumour's lobulated shape, placement and texture;
- :mod:`~gistcad.synth.phantom`: the HU volume and tumour mask of one patient;
- :mod:`~gistcad.synth.ct_export`: the CT series as a center writes it;
- :mod:`~gistcad.synth.mask_export`: the tumour mask as SEG, RTSTRUCT or NIfTI;
- :mod:`~gistcad.synth.tables`: clinical tables in each center's format;
- :mod:`~gistcad.synth.build`: the cohort on disk, the ``gistcad demo build`` command's work.
"""
