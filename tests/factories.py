"""Small builders of store rows for tests (tiny, explicit, seeded by the caller)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gistcad.domain import GenotypeDetail, MitosisUnit, Sex, Site
from gistcad.store.models import Center, Outcome, Patient, Series, Study, Tumour


def add_center(session: Session, name: str, country: str = "NL") -> Center:
    center = Center(name=name, country=country, scanner_notes=f"{name} scanner")
    session.add(center)
    session.flush()
    return center


def add_patient(
    session: Session,
    center: Center,
    pseudonym: str,
    *,
    site: Site = Site.STOMACH,
    size_cm: float = 5.0,
    genotype: GenotypeDetail = GenotypeDetail.KIT11_DEL_557_558,
    sex: Sex = Sex.FEMALE,
    age: float = 60.0,
    rfs: tuple[float, int] = (24.0, 0),
    with_series: bool = False,
) -> Patient:
    patient = Patient(pseudonym=pseudonym, center=center, sex=sex, age_at_diagnosis=age)
    patient.tumours.append(
        Tumour(
            lesion=1,
            site=site,
            size_cm=size_cm,
            mitotic_count=3,
            mitotic_unit=MitosisUnit.PER_50_HPF,
            rupture=0,
            genotype_detail=genotype,
        )
    )
    patient.outcome = Outcome(rfs_months=rfs[0], rfs_event=rfs[1], os_months=rfs[0] + 6, os_event=0)
    if with_series:
        study = Study(study_instance_uid=f"1.2.826.0.1.{center.name}.{pseudonym}")
        study.series.append(
            Series(
                series_instance_uid=f"{study.study_instance_uid}.1",
                modality="CT",
                spacing_mm=[0.8, 0.8, 2.5],
                shape=[512, 512, 80],
                orientation=[1, 0, 0, 0, 1, 0],
                volume_path=f"volumes/{pseudonym}.nii",
                volume_sha256="0" * 64,
            )
        )
        patient.studies.append(study)
    session.add(patient)
    session.flush()
    return patient


def seed_cohort(
    session: Session, n: int = 60, seed: int = 7, *, with_series: bool = False
) -> dict[str, list[int]]:
    """Two centers, ``n`` patients with outcomes, and a model's predictions for every one.

    Returns the truth the tests check against: ``kit11`` (predicted P(KIT exon 11) >= 0.5
    per patient) and ``events`` (RFS event flags).
    """
    import numpy as np

    from gistcad.domain import ModelKind
    from gistcad.store.models import ModelVersion, Prediction

    genotypes = [
        GenotypeDetail.KIT11_DEL_557_558,
        GenotypeDetail.KIT11_SUBSTITUTION,
        GenotypeDetail.PDGFRA_D842V,
        GenotypeDetail.WT_OTHER,
        GenotypeDetail.KIT9,
    ]
    rng = np.random.default_rng(seed)
    truth: dict[str, list[int]] = {"kit11": [], "events": []}
    centers = [add_center(session, "Alpha"), add_center(session, "Beta")]
    model = ModelVersion(name="clinical-v1", kind=ModelKind.CLINICAL, target="genotype")
    session.add(model)
    session.flush()
    for i in range(n):
        genotype = genotypes[i % len(genotypes)]
        event = int(rng.random() < 0.4)
        patient = add_patient(
            session,
            centers[i % 2],
            f"P-{i:03d}",
            site=Site.STOMACH if i % 3 else Site.JEJUNUM_ILEUM,
            size_cm=float(rng.uniform(1.5, 14)),
            genotype=genotype,
            age=float(rng.uniform(30, 80)),
            rfs=(float(rng.uniform(1, 120)), event),
            with_series=with_series,
        )
        p11 = float(np.clip(0.35 + 0.3 * genotype.is_kit_exon11 + rng.normal(0, 0.1), 0, 1))
        rest = (1 - p11) / 3
        session.add(
            Prediction(
                patient_id=patient.id,
                model_version_id=model.id,
                probabilities={"kit11": p11, "kit9": rest, "pdgfra": rest, "wt_other": rest},
                predicted_class="kit11" if p11 >= 0.5 else "wt_other",
            )
        )
        truth["kit11"].append(int(p11 >= 0.5))
        truth["events"].append(event)
    session.flush()
    return truth


def add_validated_model(
    session: Session,
    name: str,
    final: dict[int, float],
    oof: dict[int, float],
    trained: list[int] | None,
    *,
    scheme: str = "kfold",
) -> int:
    """A KIT exon 11 model as ``gistcad train`` registers it: final predictions (patient id to
    P(KIT exon 11)), out-of-fold predictions in its metrics, and its training patients (None:
    not recorded, as in versions registered before they were). Returns its id."""
    from gistcad.domain import ModelKind
    from gistcad.store.models import ModelVersion, Prediction

    metrics: dict[str, object] = {
        "oof": [
            {"patient_id": pid, "fold": "fold 1", "label": 0, "p_not_kit11": 1 - p, "p_kit11": p}
            for pid, p in oof.items()
        ]
    }
    if trained is not None:
        metrics["training_patients"] = trained
    model = ModelVersion(
        name=name,
        kind=ModelKind.CLINICAL,
        target="kit11",
        parameters={"scheme": scheme, "classes": ["not_kit11", "kit11"]},
        metrics=metrics,
    )
    session.add(model)
    session.flush()
    for pid, p in final.items():
        session.add(
            Prediction(
                patient_id=pid,
                model_version_id=model.id,
                probabilities={"not_kit11": 1 - p, "kit11": p},
                predicted_class="kit11" if p >= 0.5 else "not_kit11",
            )
        )
    session.flush()
    return model.id


def add_deep_model_with_risk_head(session: Session, name: str = "deep-g", seed: int = 4) -> int:
    """A deep genotype model as ``gistcad train --model dl`` registers it, on the patients
    of the session: out-of-fold genotype probabilities, the risk head's score made from each
    patient's follow-up plus noise (so that it discriminates), the follow-up and the schemes'
    references stored beside them. Returns its id."""
    import numpy as np

    from gistcad.domain import ModelKind
    from gistcad.modelling.evaluation import evaluate
    from gistcad.modelling.survival_evaluation import reference_scores
    from gistcad.modelling.targets import Target, labels_for
    from gistcad.store import AccessScope
    from gistcad.store.model_queries import modelling_table
    from gistcad.store.models import ModelVersion

    table = modelling_table(session, AccessScope.everything())
    rng = np.random.default_rng(seed)
    classes = Target.GENOTYPE.classes
    probabilities = rng.dirichlet(np.ones(len(classes)), len(table))
    oof = table[["patient_id", "pseudonym", "center", "rfs_months", "rfs_event"]].assign(
        fold=[f"fold {i % 5 + 1}" for i in range(len(table))],
        label=labels_for(table, Target.GENOTYPE),
        risk_score=-np.log(table["rfs_months"].to_numpy(float)) + rng.normal(0, 0.8, len(table)),
        **{f"p_{c}": probabilities[:, i] for i, c in enumerate(classes)},
    )
    oof = oof[oof["label"] >= 0].merge(reference_scores(table), on="patient_id")
    oof["rfs_event"] = oof["rfs_event"].astype(float)
    model = ModelVersion(
        name=name,
        kind=ModelKind.DL,
        target=Target.GENOTYPE.value,
        parameters={"scheme": "kfold", "classes": list(classes)},
        metrics={
            "oof": oof.to_dict("records"),
            "evaluation": evaluate(oof, Target.GENOTYPE, seed=0).to_dict(),
            "n_patients": len(oof),
            "card": f"# {name}",
        },
    )
    session.add(model)
    session.flush()
    return model.id
