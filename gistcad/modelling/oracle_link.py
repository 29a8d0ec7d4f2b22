"""Join a synthetic cohort's ``oracle.csv`` to the stored patients (for the ceiling only).

The oracle names patients by center and hospital id, as the center's export did; the store
knows only pseudonyms, so the pseudonym is recomputed with the data folder's key. The oracle
never becomes a feature: it is read only to print the ceiling beside a model's AUC. The
ceiling of the response targets is ``follow_up_posterior.csv`` beside it (written when the
cohort has follow-up): its columns :data:`RESPONSE_COLUMNS` are joined the same way, and are
missing (NaN) without it. Beside the latent ceiling (:data:`COLUMNS`), the oracle of a newer
build holds the same posterior columns of the other references (:data:`REFERENCES`: the
latent ceiling with age and sex, the observable reference, the clinical oracle), each
prefixed by the reference's name; they are NaN for an older oracle without them.
:func:`find_oracle` is the one way the command and the pages find and load it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gistcad.errors import ValidationError
from gistcad.ingest.pseudonym import Pseudonymizer, load_or_create_key
from gistcad.layout import DataLayout

COLUMNS = ["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other", "p_kit_mutant", "p_high_risk"]
#: the references beside the latent ceiling, as ``gistcad.synth.oracle.REFERENCES`` names them
REFERENCES = ("latent_with_age_sex", "observable", "clinical_oracle")
#: their columns: ``<reference>_<column>`` for each of :data:`COLUMNS`
REFERENCE_COLUMNS = [f"{reference}_{column}" for reference in REFERENCES for column in COLUMNS]
#: the response posterior's columns (``follow_up_posterior.csv`` beside ``oracle.csv``)
RESPONSE_COLUMNS = ["p_choi_pr_fu1", "p_progression_6m"]
RESPONSE_POSTERIOR = "follow_up_posterior.csv"


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"hospital_id": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(
            f"{path}: not {what} (not a readable CSV: {exc}); give the files that gistcad "
            "demo build wrote"
        ) from None


def load_oracle(path: Path, pseudonymizer: Pseudonymizer) -> pd.DataFrame:
    """``pseudonym`` and the posterior columns of ``oracle.csv``, and the response posterior
    of ``follow_up_posterior.csv`` beside it (:data:`RESPONSE_COLUMNS`, NaN without it)."""
    if not path.is_file():
        raise ValidationError(f"{path}: no such oracle file (written by gistcad demo build)")
    try:
        oracle = pd.read_csv(path, dtype={"hospital_id": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(
            f"{path}: not an oracle file (not a readable CSV: {exc}); give the oracle.csv "
            "that gistcad demo build wrote"
        ) from None
    missing = {"center", "hospital_id", *COLUMNS} - set(oracle.columns)
    if missing:
        raise ValidationError(f"{path}: not an oracle file (missing {', '.join(sorted(missing))})")
    oracle["pseudonym"] = [
        pseudonymizer.pseudonym(c, h)
        for c, h in zip(oracle["center"], oracle["hospital_id"], strict=True)
    ]
    oracle = oracle.assign(
        **{column: float("nan") for column in REFERENCE_COLUMNS if column not in oracle}
    )
    oracle = oracle[["center", "hospital_id", "pseudonym", *COLUMNS, *REFERENCE_COLUMNS]]
    posterior_path = path.parent / RESPONSE_POSTERIOR
    if posterior_path.is_file():
        posterior = _read_csv(posterior_path, "a response posterior file")
        missing = {"center", "hospital_id", *RESPONSE_COLUMNS} - set(posterior.columns)
        if missing:
            raise ValidationError(
                f"{posterior_path}: not a response posterior file (missing "
                f"{', '.join(sorted(missing))})"
            )
        posterior = posterior[["center", "hospital_id", *RESPONSE_COLUMNS]]
        oracle = oracle.merge(posterior, on=["center", "hospital_id"], how="left")
    else:
        oracle = oracle.assign(**{column: float("nan") for column in RESPONSE_COLUMNS})
    return oracle[["pseudonym", *COLUMNS, *REFERENCE_COLUMNS, *RESPONSE_COLUMNS]]


def find_oracle(layout: DataLayout, path: Path | None = None) -> pd.DataFrame | None:
    """The oracle of a synthetic cohort linked to the stored patients, for the ceiling.

    ``path`` when given (an error when it is not an oracle), else the data folder's demo
    oracle when the demo was built there; None when there is none. Never creates the data
    folder's pseudonym key: without one nothing was imported, so no patient to link to.

    Raises
    ------
    ValidationError
        When ``path`` is not an oracle file, or there is no pseudonym key to link it with.
    """
    if path is None:
        path = layout.demo_oracle
        if not path.is_file() or not layout.pseudonym_key.is_file():
            return None
    elif not layout.pseudonym_key.is_file():
        raise ValidationError(
            f"{path}: the oracle cannot be linked to any patient: the data folder "
            f"{layout.root} has no pseudonym key, so nothing was imported into it yet; "
            "import the synthetic cohort first"
        )
    return load_oracle(path, load_or_create_key(layout.root))


def oracle_stamp(layout: DataLayout) -> str:
    """What identifies the demo oracle :func:`find_oracle` would load ("" when it would
    load none): its path and modification time, for a cache to notice a rebuilt demo."""
    path = layout.demo_oracle
    if not path.is_file() or not layout.pseudonym_key.is_file():
        return ""
    return f"{path}:{path.stat().st_mtime}"
