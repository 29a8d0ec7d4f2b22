"""The clinical baseline: logistic regression on what is known before surgery.

Inputs: primary site (one-hot), tumour size on CT (log cm), age and sex; missing values are
imputed inside the pipeline (median / most frequent), so a fold never sees its test rows.
Classes are weighted by inverse frequency. A deep or radiomics model is only as good as its
margin over this baseline, measured on the same folds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from gistcad.domain import Site

NUMERIC = ["size_cm", "age_at_diagnosis"]
CATEGORICAL = ["site", "sex"]


def _log_size(values: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.array(values, dtype=float)
    out[:, 0] = np.log(np.clip(out[:, 0], 0.1, None))
    return out


def clinical_features(table: pd.DataFrame) -> pd.DataFrame:
    """The baseline's input columns, typed (object for categories, float for numbers)."""
    frame = table[NUMERIC + CATEGORICAL].copy()
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in CATEGORICAL:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "missing")
    return frame


def build_clinical_model(seed: int = 0) -> Pipeline:
    """An unfitted scikit-learn pipeline (impute → log size, scale → one-hot → logistic)."""
    numeric = make_pipeline(
        SimpleImputer(strategy="median"), FunctionTransformer(_log_size), StandardScaler()
    )
    categorical = OneHotEncoder(
        categories=[[s.value for s in Site] + ["missing"], ["female", "male", "missing"]],
        handle_unknown="ignore",
    )
    features = ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])
    classifier = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


def fit_predict_clinical(
    table: pd.DataFrame,
    labels: NDArray[np.int64],
    train: NDArray[np.int64],
    test: NDArray[np.int64],
    n_classes: int,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Fit on ``train`` rows, return class probabilities (len(test), n_classes) for ``test``."""
    features = clinical_features(table)
    model = build_clinical_model(seed).fit(features.iloc[train], labels[train])
    proba = model.predict_proba(features.iloc[test])
    out = np.zeros((test.size, n_classes))
    out[:, model.classes_] = proba
    return out
