from __future__ import annotations

import numpy as np
import pytest

from gistcad.domain import Site
from gistcad.errors import ValidationError
from gistcad.neural.covariates import (
    CLINICAL_COVARIATE_NAMES,
    COVARIATE_NAMES,
    clinical_covariates,
    covariate_matrix,
)


def test_log_size_and_one_indicator_per_site() -> None:
    extents = np.array([[50.0, 20.0, 30.0], [10.0, 25.0, 5.0], [80.0, 80.0, 200.0]])
    out = covariate_matrix(extents, ["stomach", "jejunum_ileum", None])
    assert out.shape == (3, 1 + len(Site)) and out.dtype == np.float32
    assert COVARIATE_NAMES[0] == "log_size"
    np.testing.assert_allclose(out[:, 0], np.log([1.0, 0.5, 4.0]), rtol=1e-6)
    sites = out[:, 1:]
    assert sites[0].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert sites[1, list(Site).index(Site.JEJUNUM_ILEUM)] == 1 and sites[1].sum() == 1
    assert sites[2].sum() == 0  # unknown site: no indicator


def test_unknown_values_and_mismatches_are_refused_or_blank() -> None:
    assert covariate_matrix([[20.0, 20.0, 20.0]], [float("nan")])[0, 1:].sum() == 0
    with pytest.raises(ValidationError, match="2 tumour extents but 1 sites"):
        covariate_matrix(np.ones((2, 3)), ["stomach"])
    with pytest.raises(ValidationError, match="finite and > 0 mm"):
        covariate_matrix([[0.0, 0.0, 0.0]], ["stomach"])


def test_age_and_sex_are_standardised_and_unknowns_are_neutral() -> None:
    out = clinical_covariates([60, 90, None, "n/a", 45.0], ["male", "FEMALE", None, "x", "female"])
    assert CLINICAL_COVARIATE_NAMES == ("age_z", "female") and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], [0.0, 2.0, 0.0, 0.0, -1.0])
    np.testing.assert_allclose(out[:, 1], [0.0, 1.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValidationError, match="2 ages but 1 sexes"):
        clinical_covariates([50, 60], ["male"])
