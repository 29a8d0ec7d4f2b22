"""Training and evaluating the genotype and risk models on the stored cohort.

:mod:`~gistcad.modelling.targets` (what is predicted), :mod:`~gistcad.modelling.folds`
(cross-validation schemes), :mod:`~gistcad.modelling.clinical_baseline`,
:mod:`~gistcad.modelling.evaluation` (per-center metrics of out-of-fold predictions).
"""
