"""Query layer: filters, records, and scope (a scope of one center never shows another)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import GenotypeDetail, GenotypeGroup, ModelKind, RiskClass, RiskScheme, Site
from gistcad.errors import NotFoundError
from gistcad.store import AccessScope
from gistcad.store.model_queries import list_model_versions, model_predictions
from gistcad.store.models import Center, ModelVersion, Prediction
from gistcad.store.queries import (
    COHORT_COLUMNS,
    CohortFilter,
    center_names,
    cohort_counts,
    cohort_table,
    list_centers,
    patient_record,
    patient_series,
)
from tests.conftest import BACKENDS
from tests.factories import add_center, add_patient

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    """Center A: 3 patients (2 with a CT), center B: 2 patients; one model, predictions."""
    with Session(engine) as s:
        a, b = add_center(s, "Alpha"), add_center(s, "Beta")
        pa = [
            add_patient(s, a, "A-001", with_series=True),
            add_patient(
                s, a, "A-002", site=Site.JEJUNUM_ILEUM, size_cm=9, genotype=GenotypeDetail.KIT9
            ),
            add_patient(s, a, "A-003", with_series=True, genotype=GenotypeDetail.PDGFRA_D842V),
        ]
        pb = [
            add_patient(s, b, "B-001", with_series=True, size_cm=12),
            add_patient(s, b, "A-001"),  # same pseudonym as a patient of Alpha
        ]
        model = ModelVersion(name="clinical-v1", kind=ModelKind.CLINICAL, target="kit11")
        s.add(model)
        s.flush()
        for p in pa + pb:
            s.add(
                Prediction(
                    patient_id=p.id,
                    model_version_id=model.id,
                    probabilities={"kit11": 0.7, "other": 0.3},
                    predicted_class="kit11",
                )
            )
        s.commit()
        return {"a": a.id, "b": b.id, "model": model.id, "b_patient": pb[0].id}


def test_everything_scope_sees_all(engine: Engine, seeded: dict[str, int]) -> None:
    with Session(engine) as s:
        counts = cohort_counts(s, AccessScope.everything())
        table = cohort_table(s, AccessScope.everything())
    assert (counts.patients, counts.centers, counts.series, counts.models) == (5, 2, 3, 1)
    assert list(table.columns) == COHORT_COLUMNS
    assert len(table) == 5


def test_one_center_scope_never_returns_another_center(
    engine: Engine, seeded: dict[str, int]
) -> None:
    scope = AccessScope.centers(seeded["a"])
    with Session(engine) as s:
        counts = cohort_counts(s, scope)
        table = cohort_table(s, scope)
        centers = list_centers(s, scope)
        names = center_names(s, scope)
        everyone = center_names(s, AccessScope.everything())
        preds = model_predictions(s, scope, seeded["model"])
        other_series = patient_series(s, scope, seeded["b_patient"])
        with pytest.raises(NotFoundError, match="B-001"):
            patient_record(s, scope, "B-001")
        record = patient_record(s, scope, "A-001")  # unique within the scope
    assert (counts.patients, counts.centers, counts.series) == (3, 1, 2)
    assert set(table["center"]) == {"Alpha"}
    assert list(centers["center"]) == ["Alpha"]
    assert names == ["Alpha"] and everyone == ["Alpha", "Beta"]
    assert set(preds["center"]) == {"Alpha"} and len(preds) == 3
    assert other_series.empty
    assert record.center == "Alpha"


def test_empty_scope_sees_nothing(engine: Engine, seeded: dict[str, int]) -> None:
    scope = AccessScope.centers()
    with Session(engine) as s:
        assert cohort_counts(s, scope).patients == 0
        assert cohort_table(s, scope).empty
        assert list_centers(s, scope).empty
        assert center_names(s, scope) == []


def test_ambiguous_pseudonym_names_the_centers(engine: Engine, seeded: dict[str, int]) -> None:
    with Session(engine) as s, pytest.raises(NotFoundError, match="Alpha, Beta"):
        patient_record(s, AccessScope.everything(), "A-001")


def test_filters(engine: Engine, seeded: dict[str, int]) -> None:
    everything = AccessScope.everything()
    with Session(engine) as s:

        def pseudonyms(flt: CohortFilter) -> list[str]:
            return sorted(cohort_table(s, everything, flt)["pseudonym"])

        assert pseudonyms(CohortFilter(centers=frozenset({"Beta"}))) == ["A-001", "B-001"]
        assert pseudonyms(CohortFilter(sites=frozenset({Site.JEJUNUM_ILEUM}))) == ["A-002"]
        groups = frozenset({GenotypeGroup.PDGFRA, GenotypeGroup.KIT9})
        assert pseudonyms(CohortFilter(genotype_groups=groups)) == ["A-002", "A-003"]
        assert pseudonyms(CohortFilter(size_range_cm=(8.0, 20.0))) == ["A-002", "B-001"]
        assert pseudonyms(CohortFilter(has_scan=True)) == ["A-001", "A-003", "B-001"]
        assert pseudonyms(CohortFilter(has_scan=False)) == ["A-001", "A-002"]
        assert len(pseudonyms(CohortFilter(has_prediction_from=seeded["model"]))) == 5
        assert pseudonyms(CohortFilter(has_prediction_from=seeded["model"] + 1)) == []


def test_cohort_values_are_plain(engine: Engine, seeded: dict[str, int]) -> None:
    with Session(engine) as s:
        table = cohort_table(s, AccessScope.everything())
        models = list_model_versions(s)
    row = table[table["pseudonym"] == "A-002"].iloc[0]
    assert row["site"] == "jejunum_ileum"
    assert row["genotype_detail"] == "kit9" and row["genotype_group"] == "kit9"
    assert row["size_cm"] == 9
    assert row["n_series"] == 0
    assert list(models["name"]) == ["clinical-v1"]


def test_risk_filter_selects_insufficient_data_and_unknown(
    engine: Engine, seeded: dict[str, int]
) -> None:
    with Session(engine) as s:
        beta = s.get(Center, seeded["b"])
        assert beta is not None
        add_patient(s, beta, "D-001", site=Site.DUODENUM, size_cm=7.0)  # AFIP: no figures
        unknown = add_patient(s, beta, "U-001")
        unknown.tumours[0].mitotic_count = None
        s.commit()

    def pseudonyms(scope: AccessScope, scheme: RiskScheme, *classes: RiskClass | None) -> list:
        flt = CohortFilter(risk_scheme=scheme, risk_classes=frozenset(classes))
        with Session(engine) as s:
            return sorted(cohort_table(s, scope, flt)["pseudonym"])

    everything, alpha = AccessScope.everything(), AccessScope.centers(seeded["a"])
    afip, joensuu = RiskScheme.AFIP_2006, RiskScheme.MODIFIED_NIH_2008
    assert pseudonyms(everything, afip, RiskClass.INSUFFICIENT_DATA) == ["D-001"]
    assert pseudonyms(everything, afip, None) == ["U-001"]
    assert pseudonyms(everything, afip, RiskClass.MODERATE) == ["A-002", "B-001"]
    assert pseudonyms(everything, afip, RiskClass.MODERATE, None) == ["A-002", "B-001", "U-001"]
    assert pseudonyms(alpha, afip, RiskClass.INSUFFICIENT_DATA) == []  # D-001 is Beta's
    assert pseudonyms(everything, joensuu, RiskClass.INSUFFICIENT_DATA) == []
    assert len(pseudonyms(everything, afip)) == 7  # a scheme alone filters nothing
