"""The latent imaging phenotype: link round trips, genotype effects recovered, signal 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from gistcad.domain import GenotypeDetail, Site
from gistcad.synth.params import DEFAULT_PARAMS, DRAWN_GENOTYPES
from gistcad.synth.phenotype import (
    BINARY_PHENOTYPE,
    CONTINUOUS_PHENOTYPE,
    LatentScale,
    binary_base_logits,
    draw_phenotype,
    genotype_effects,
    latent_scales,
    to_latent,
    to_phenotype,
)

N = 20_000
STOMACH = list(Site).index(Site.STOMACH)
KIT9 = DRAWN_GENOTYPES.index(GenotypeDetail.KIT9)


def _tumours(n: int, site: int = STOMACH, size_cm: float = 5.0) -> dict[str, np.ndarray]:
    return {
        "sites": np.full(n, site),
        "size_cm": np.full(n, size_cm),
        "mitoses": np.zeros(n, dtype=np.int64),
    }


def test_to_latent_inverts_to_phenotype() -> None:
    sites = np.array([list(Site).index(s) for s in Site])
    size = np.linspace(0.5, 40.0, len(sites))
    z = np.linspace(-3.0, 3.0, len(sites))
    scales = latent_scales(sites, size, size > 10, 1.0, DEFAULT_PARAMS)
    assert list(scales) == list(CONTINUOUS_PHENOTYPE)
    for name, latent in scales.items():
        np.testing.assert_allclose(to_latent(to_phenotype(z, latent), latent), z, atol=1e-9)
        one_tumour = LatentScale(latent.location[:1], latent.scale, latent.ceiling)
        assert (np.diff(to_phenotype(z, one_tumour)) > 0).all(), name  # monotone in z


def test_high_mitoses_shift_necrosis_by_signal_only() -> None:
    sites, size = np.full(3, STOMACH), np.array([1.0, 5.0, 20.0])
    for signal in (0.0, 0.5, 1.0):
        low = latent_scales(sites, size, np.zeros(3, bool), signal, DEFAULT_PARAMS)
        high = latent_scales(sites, size, np.ones(3, bool), signal, DEFAULT_PARAMS)
        shift = signal * DEFAULT_PARAMS.phenotype.necrosis_high_mitoses
        np.testing.assert_allclose(
            high["necrosis_fraction"].location - low["necrosis_fraction"].location, shift
        )
        for name in ("enhancement_hu", "heterogeneity", "lobulation"):
            np.testing.assert_array_equal(high[name].location, low[name].location)


@pytest.mark.parametrize("name", [*CONTINUOUS_PHENOTYPE, *BINARY_PHENOTYPE])
def test_genotype_effects_are_relative_to_kit_exon_11(name: str) -> None:
    effects = genotype_effects(name, DEFAULT_PARAMS)
    assert effects.shape == (len(DRAWN_GENOTYPES),)
    kit11 = np.array([g.is_kit_exon11 for g in DRAWN_GENOTYPES])
    assert (effects[kit11] == 0.0).all()
    assert (effects[~kit11] != 0.0).any()


def test_draw_phenotype_columns_and_ranges() -> None:
    rng = np.random.default_rng(0)
    n = 500
    tumours = {
        "sites": rng.integers(len(Site), size=n),
        "size_cm": rng.uniform(0.5, 40.0, size=n),
        "mitoses": rng.integers(0, 30, size=n),
    }
    genotypes = rng.integers(len(DRAWN_GENOTYPES), size=n)
    out = draw_phenotype(**tumours, genotypes=genotypes, signal=1.0, rng=rng, params=DEFAULT_PARAMS)
    assert list(out) == [*CONTINUOUS_PHENOTYPE, *BINARY_PHENOTYPE]
    for name in CONTINUOUS_PHENOTYPE:
        assert out[name].dtype == np.float64 and out[name].shape == (n,), name
    for name in BINARY_PHENOTYPE:
        assert out[name].dtype == bool and out[name].shape == (n,), name
    for name in ("heterogeneity", "lobulation"):
        assert ((out[name] > 0) & (out[name] < 1)).all(), name
    necrosis_max = DEFAULT_PARAMS.phenotype.necrosis_max
    assert ((out["necrosis_fraction"] > 0) & (out["necrosis_fraction"] < necrosis_max)).all()


def test_signal_zero_draws_do_not_depend_on_genotype() -> None:
    tumours = _tumours(300)
    draws = [
        draw_phenotype(
            **tumours,
            genotypes=np.full(300, g),
            signal=0.0,
            rng=np.random.default_rng(5),
            params=DEFAULT_PARAMS,
        )
        for g in range(len(DRAWN_GENOTYPES))
    ]
    for other in draws[1:]:
        for name, values in draws[0].items():
            np.testing.assert_array_equal(other[name], values, err_msg=name)


def test_draws_recover_the_genotype_effects() -> None:
    """Latent z of exon-9 tumours has mean = effect and SD 1; binary rates match the logit."""
    tumours = _tumours(N)
    out = draw_phenotype(
        **tumours,
        genotypes=np.full(N, KIT9),
        signal=1.0,
        rng=np.random.default_rng(2024),
        params=DEFAULT_PARAMS,
    )
    scales = latent_scales(
        tumours["sites"], tumours["size_cm"], tumours["mitoses"] > 5, 1.0, DEFAULT_PARAMS
    )
    for name in CONTINUOUS_PHENOTYPE:
        z = to_latent(out[name], scales[name])
        effect = genotype_effects(name, DEFAULT_PARAMS)[KIT9]
        assert z.mean() == pytest.approx(effect, abs=4 / np.sqrt(N)), name
        assert z.std() == pytest.approx(1.0, abs=0.03), name
    base = binary_base_logits(tumours["sites"], tumours["size_cm"], DEFAULT_PARAMS)
    for name in BINARY_PHENOTYPE:
        p = float(expit(base[name][0] + genotype_effects(name, DEFAULT_PARAMS)[KIT9]))
        assert out[name].mean() == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N)), name
