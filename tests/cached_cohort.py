"""A simulated discovery cohort in the store with its radiomics features already in the
feature cache: discovery, its command and its page run on it without reading an image.

Each patient gets a baseline CT series and a tumour mask row whose checksums key the cached
features (:func:`gistcad.modelling.radiomics_model.cache_path` with the discovery's
:data:`~gistcad.biomarkers.discovery.CANDIDATE_SETTINGS`), the cohort's size, mitoses and
survival, a rupture in about 15 % and the four genotype classes in turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
from gistcad.biomarkers.simulation import PlantedCohort
from gistcad.domain import GenotypeDetail, SegmentationSource, Site
from gistcad.modelling.radiomics_model import CaseImages, cache_path
from gistcad.store import session_scope
from gistcad.store.models import Segmentation
from tests.factories import add_center, add_patient

#: one genotype of each class, dealt in turn (every adjustment indicator varies)
GENOTYPES = (
    GenotypeDetail.KIT11_DEL_557_558,
    GenotypeDetail.KIT9,
    GenotypeDetail.PDGFRA_D842V,
    GenotypeDetail.WT_OTHER,
)


def store_cached_cohort(
    engine: Engine, data_dir: Path, cohort: PlantedCohort, features: Sequence[str], seed: int
) -> list[int]:
    """Store ``cohort`` (pseudonyms ``P-000``…) with ``features`` cached; the patient ids in
    row order. ``seed`` draws the ruptures."""
    rng = np.random.default_rng(seed)
    n = len(cohort.durations)
    mitoses = np.expm1(cohort.covariates["log_mitoses"].to_numpy(dtype=float))
    ids = []
    with session_scope(engine) as session:
        centers = {name: add_center(session, str(name)) for name in sorted(set(cohort.centers))}
        for i in range(n):
            patient = add_patient(
                session,
                centers[cohort.centers[i]],
                f"P-{i:03d}",
                site=Site.STOMACH if i % 2 else Site.JEJUNUM_ILEUM,
                size_cm=float(np.exp(cohort.log_size[i])),
                genotype=GENOTYPES[i % len(GENOTYPES)],
                rfs=(float(cohort.durations[i]), int(cohort.events[i])),
                with_series=True,
            )
            patient.tumours[0].mitotic_count = float(mitoses[i])
            patient.tumours[0].rupture = int(rng.random() < 0.15)
            series = patient.studies[0].series[0]
            case = CaseImages(
                series.volume_path, f"masks/P-{i:03d}.nii.gz", f"{i:064x}", f"{i + n:064x}"
            )
            series.volume_sha256 = case.volume_sha256
            session.add(
                Segmentation(
                    series_id=series.id,
                    label="GIST",
                    source=SegmentationSource.MANUAL,
                    path=case.mask_path,
                    sha256=case.mask_sha256,
                )
            )
            path = cache_path(data_dir, case, CANDIDATE_SETTINGS)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({f: float(cohort.features.loc[i, f]) for f in features}))
            ids.append(patient.id)
    return ids
