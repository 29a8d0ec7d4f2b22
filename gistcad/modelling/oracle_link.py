"""Join a synthetic cohort's ``oracle.csv`` to the stored patients (for the ceiling only).

The oracle names patients by center and hospital id, as the center's export did; the store
knows only pseudonyms, so the pseudonym is recomputed with the data folder's key. The oracle
never becomes a feature: it is read only to print the ceiling beside a model's AUC.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gistcad.errors import ValidationError
from gistcad.ingest.pseudonym import Pseudonymizer

COLUMNS = ["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other", "p_kit_mutant", "p_high_risk"]


def load_oracle(path: Path, pseudonymizer: Pseudonymizer) -> pd.DataFrame:
    """``pseudonym`` and the posterior columns of ``oracle.csv``."""
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
    return oracle[["pseudonym", *COLUMNS]]
