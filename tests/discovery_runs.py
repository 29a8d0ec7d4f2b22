"""Discovery on a simulated cohort, as the discovery tests run it (tiny, seeded by the caller).

:func:`discover_cohort` hands a :class:`~gistcad.biomarkers.simulation.PlantedCohort` to
:func:`~gistcad.analysis.biomarker_discovery.discover` (its features, follow-up, adjustment,
centers and log size), any of them replaceable; :func:`discovery_result` is a finished
discovery job's result, as the job saves it and the Biomarkers page reads it.
"""

from __future__ import annotations

import pandas as pd

from gistcad.analysis.biomarker_discovery import (
    Discovery,
    DiscoverySettings,
    FloatArray,
    Harmoniser,
    discover,
)
from gistcad.biomarkers import BiomarkerDiscovery, DiscoveryRequest
from gistcad.biomarkers.simulation import PlantedCohort, planted_cohort

#: BH at FDR 10 %, no bootstrap of the selection frequency: the quick setting of most tests
FAST = DiscoverySettings(fdr=0.1, bootstrap=0)


def discover_cohort(
    cohort: PlantedCohort,
    settings: DiscoverySettings = FAST,
    *,
    features: pd.DataFrame | None = None,
    durations: FloatArray | None = None,
    events: FloatArray | None = None,
    harmoniser: Harmoniser | None = None,
) -> Discovery:
    """Discovery on ``cohort``, with ``features``, ``durations`` or ``events`` in place of the
    cohort's where given."""
    return discover(
        cohort.features if features is None else features,
        cohort.durations if durations is None else durations,
        cohort.events if events is None else events,
        cohort.covariates,
        cohort.centers,
        cohort.log_size,
        settings,
        harmoniser=harmoniser,
    )


def discovery_result(seed: int) -> BiomarkerDiscovery:
    """A discovery job's result on 90 simulated patients (seeded), as the job saves it."""
    cohort = planted_cohort(n=90, noise_features=3, seed=seed)
    found = discover_cohort(cohort, DiscoverySettings(bootstrap=0))
    patients = pd.DataFrame({"pseudonym": [f"P-{i:03d}" for i in range(90)]})
    request = DiscoveryRequest(bootstrap=0, seed=seed)
    return BiomarkerDiscovery(request, found, patients, ("log_size",), 5)
