"""Imaging biomarkers of survival: the discovery capability (:func:`discover_biomarkers`)."""

from gistcad.biomarkers.discovery import (
    Adjustment,
    BiomarkerDiscovery,
    DiscoveryRequest,
    Harmonisation,
    center_forest_table,
    discover_biomarkers,
    tertile_comparison,
)

__all__ = [
    "Adjustment",
    "BiomarkerDiscovery",
    "DiscoveryRequest",
    "Harmonisation",
    "center_forest_table",
    "discover_biomarkers",
    "tertile_comparison",
]
