"""The four references of a synthetic cohort: latent ceiling, with age and sex, observable
(what the CT shows, with calibrated error) and the clinical oracle; their honesty.

The patients' CTs are rendered at matrix 64 (a short scan) and measured, as the build does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.errors import ValidationError
from gistcad.synth.calibrate import render_measurements
from gistcad.synth.oracle import (
    POSTERIOR_COLUMNS,
    REFERENCES,
    TASKS,
    reference_aucs,
    reference_column,
    reference_posteriors,
)

N = 100  # patients at signal 1 (at signal 0 fewer suffice: every posterior is constant)
N_NO_SIGNAL = 30


def _hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982, Radiology 143:29)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(np.sqrt(var))


@pytest.fixture(scope="module")
def rendered() -> dict[float, tuple[pd.DataFrame, pd.DataFrame]]:
    return {
        0.0: render_measurements(N_NO_SIGNAL, 5, (64,), signal=0.0),
        1.0: render_measurements(N, 5, (64,), signal=1.0),
    }


def test_every_reference_is_a_distribution(
    rendered: dict[float, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    cohort, measurements = rendered[1.0]
    frame = reference_posteriors(cohort, signal=1.0, measurements=measurements)
    for reference in REFERENCES:
        columns = [reference_column(reference, c) for c in POSTERIOR_COLUMNS]
        values = frame[columns].to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1 + 1e-12).all()
        classes = frame[columns[:4]].sum(axis=1)
        np.testing.assert_allclose(classes, 1.0, atol=1e-9)
    assert set(reference_aucs(frame)) == set(REFERENCES)


def test_at_signal_0_every_reference_is_chance(
    rendered: dict[float, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    """No signal: no reference's posterior of the genotype differs between patients (as
    written, to 6 decimals), so every genotype AUC is exactly chance."""
    cohort, measurements = rendered[0.0]
    frame = reference_posteriors(cohort, signal=0.0, measurements=measurements).round(6)
    aucs = reference_aucs(frame)
    assert set(aucs) == set(REFERENCES)
    for reference, by_task in aucs.items():
        for task in ("kit11_vs_rest", "kit_mutant_vs_not", "pdgfra_vs_rest"):
            assert by_task[task] == 0.5 or np.isnan(by_task[task]), (reference, task)


def test_with_signal_the_references_are_ordered_by_what_they_know(
    rendered: dict[float, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    """What the CT shows is less than the exact phenotype: ``observable`` is never above
    ``latent_with_age_sex`` beyond sampling error; the measurements carry signal beyond
    chance; age and sex add to the latent ceiling's information, never remove it; and the
    exact posterior given the latent phenotype scores the true class better on average
    (mean log probability) than the observable one."""
    cohort, measurements = rendered[1.0]
    frame = reference_posteriors(cohort, signal=1.0, measurements=measurements)
    aucs = reference_aucs(frame)
    _, label = TASKS["kit11_vs_rest"]
    positives = int(frame[label].sum())
    kit11 = {reference: aucs[reference]["kit11_vs_rest"] for reference in REFERENCES}
    se = _hanley_mcneil_se(kit11["latent_with_age_sex"], positives, N - positives)
    assert kit11["observable"] <= kit11["latent_with_age_sex"] + 2 * se, kit11
    assert kit11["observable"] > 0.5 + 2 * _hanley_mcneil_se(0.5, positives, N - positives)
    assert kit11["latent_with_age_sex"] >= kit11["latent"] - se, kit11
    # the mean log score of the true class
    truth = frame["genotype_class"].map(
        {"kit11": "p_kit11", "kit9": "p_kit9", "pdgfra": "p_pdgfra", "wt_other": "p_wt_other"}
    )
    score = {
        reference: float(
            np.mean(
                [
                    np.log(frame.at[i, reference_column(reference, column)])
                    for i, column in truth.items()
                ]
            )
        )
        for reference in REFERENCES
    }
    assert score["latent_with_age_sex"] > score["observable"], score


def test_measurements_must_cover_every_patient(
    rendered: dict[float, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    cohort, measurements = rendered[1.0]
    with pytest.raises(ValidationError, match="no measurements"):
        reference_posteriors(cohort, signal=1.0, measurements=measurements.iloc[1:])
    with pytest.raises(ValidationError, match=r"lack column\(s\) \['solidity'\]"):
        reference_posteriors(cohort, signal=1.0, measurements=measurements.drop(columns="solidity"))


def test_a_tumour_the_ct_does_not_show_is_judged_on_the_clinical_facts(
    rendered: dict[float, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    """A tumour too small to fill half a voxel has an empty mask and no measurements: its
    observable posterior is the clinical oracle's (the others' are unchanged)."""
    cohort, measurements = rendered[1.0]
    hidden = measurements.copy()
    hidden.loc[0, ["solid_hu", "necrosis_share", "texture_sd", "solidity"]] = np.nan
    hidden.loc[0, "voxels"] = 0.0
    before = reference_posteriors(cohort, signal=1.0, measurements=measurements)
    after = reference_posteriors(cohort, signal=1.0, measurements=hidden)
    observable = [reference_column("observable", c) for c in POSTERIOR_COLUMNS]
    clinical = [reference_column("clinical_oracle", c) for c in POSTERIOR_COLUMNS]
    shown, hidden_row = (f.loc[0, observable].to_numpy(float) for f in (before, after))
    np.testing.assert_allclose(hidden_row, after.loc[0, clinical].to_numpy(float), rtol=1e-12)
    assert not np.allclose(shown, hidden_row)
    pd.testing.assert_frame_equal(after.iloc[1:], before.iloc[1:])
