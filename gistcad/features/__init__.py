"""IBSI-compliant radiomics features on numpy/scipy: :func:`extract_features`.

pyradiomics does not install on Python 3.11 and mirp conflicts with lifelines' pandas pin, so
the features are implemented here and validated against the IBSI 1 digital phantom reference
values (Zwanenburg et al., IBSI reference manual, arXiv:1612.07003). See
:mod:`gistcad.features.extract` for the feature names and families.
"""

from gistcad.features.extract import (
    EmptyIntensityMaskError,
    extract_features,
    extract_from_volume,
)
from gistcad.features.settings import Discretisation, Family, FeatureSettings

__all__ = [
    "Discretisation",
    "EmptyIntensityMaskError",
    "Family",
    "FeatureSettings",
    "extract_features",
    "extract_from_volume",
]
