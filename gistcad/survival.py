"""Survival of a selected cohort: the one call ``gistcad survival`` and the Survival page make.

Filters and a request in, the comparison out: :func:`survival_for` reads the selected
patients (and, where the request needs them, one model's predictions) from the store within
the caller's scope, and compares their survival with
:func:`~gistcad.analysis.cohort_survival.cohort_survival`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.cohort_survival import (
    CohortSurvival,
    SurvivalRequest,
    cohort_survival,
    groups_for,
    predicted_vs_true,
    survival_columns,
)
from gistcad.analysis.grouping import needed_classes
from gistcad.domain import Grouping
from gistcad.errors import ValidationError
from gistcad.store.model_queries import find_model_version, model_prediction_set
from gistcad.store.queries import CohortFilter, CohortPage, cohort_table
from gistcad.store.scope import AccessScope


@dataclass(frozen=True)
class CohortSurvivalResult:
    """The survival of one selection.

    Attributes
    ----------
    cohort
        The selected patients (the store's cohort table, with the columns
        :func:`~gistcad.analysis.cohort_survival.survival_columns` names).
    result
        The comparison by the request's grouping.
    groups
        The group of each row of ``cohort`` under the request's grouping.
    model_name
        The model whose predictions were used, or None.
    true_status, agreement
        Asked for with ``with_true_status`` and a grouping by predicted status: survival by
        the true status split the same way, and the cross-table of predicted by true status;
        None otherwise.
    """

    cohort: pd.DataFrame
    result: CohortSurvival
    groups: pd.Series
    model_name: str | None = None
    true_status: CohortSurvival | None = None
    agreement: pd.DataFrame | None = None


def needs_predictions(request: SurvivalRequest) -> bool:
    """Whether the request groups or adjusts by a model's predicted status."""
    return request.by is Grouping.PREDICTED or any(
        v.grouping is Grouping.PREDICTED for v in request.covariates
    )


def survival_for(
    session: Session,
    scope: AccessScope,
    selection: CohortFilter,
    request: SurvivalRequest,
    *,
    model: str | int | None = None,
    with_true_status: bool = False,
) -> CohortSurvivalResult:
    """Compare the survival of the patients ``selection`` picks, in ``scope``.

    Parameters
    ----------
    selection
        The cohort filter (centers, risk classes ...); the empty filter selects everyone.
    request
        What to compare (see :func:`~gistcad.analysis.cohort_survival.build_request`).
    model
        A model version id or name, needed when ``request`` groups or adjusts by predicted
        status.
    with_true_status
        With a grouping by predicted status, also compare by the true status.

    Raises
    ------
    ValidationError
        For an empty selection, a grouping by predicted status without a model, and every
        refusal of :func:`~gistcad.analysis.cohort_survival.cohort_survival`.
    NotFoundError
        For an unknown model.
    """
    cohort = cohort_table(
        session, scope, selection, columns=survival_columns(request), ordered=False
    )
    if not needs_predictions(request):
        result = cohort_survival(cohort, request)
        return CohortSurvivalResult(cohort, result, _groups(result, cohort, request))
    if model is None:
        raise ValidationError("grouping by predicted status needs a model: choose one")
    model_id, _ = find_model_version(session, str(model), scope)
    # only the probabilities the split reads, from their float columns
    predictions = model_prediction_set(
        session, scope, model_id, classes=needed_classes(request.split)
    )
    if with_true_status and request.by is Grouping.PREDICTED:
        predicted, true, agreement = predicted_vs_true(
            cohort, request, predictions.predictions, validation=predictions.validation
        )
        return CohortSurvivalResult(
            cohort,
            predicted,
            _groups(predicted, cohort, request, predictions.predictions),
            predictions.name,
            true,
            agreement,
        )
    result = cohort_survival(
        cohort, request, predictions.predictions, validation=predictions.validation
    )
    return CohortSurvivalResult(
        cohort, result, _groups(result, cohort, request, predictions.predictions), predictions.name
    )


def _groups(
    result: CohortSurvival,
    cohort: pd.DataFrame,
    request: SurvivalRequest,
    predictions: pd.DataFrame | None = None,
) -> pd.Series:
    """The group of each cohort row: the labels the comparison grouped by."""
    if result.groups is not None:
        return result.groups
    return groups_for(cohort, request, predictions)


#: the columns of a group's patient list
MEMBER_COLUMNS = ["pseudonym", "center", "rfs_months", "rfs_event", "os_months", "os_event"]


def group_members(
    found: CohortSurvivalResult, group: str, *, page: int = 1, page_size: int = 100
) -> CohortPage:
    """One page of the patients of ``group`` (by center and pseudonym), from the rows
    :func:`survival_for` read: a large group is listed page by page, never whole.

    Parameters
    ----------
    found
        The result of :func:`survival_for`.
    group
        A label of ``found.groups``.
    page, page_size
        1-based page number (a page past the end shows the last page) and rows per page.

    Returns
    -------
    CohortPage
        ``rows`` with :data:`MEMBER_COLUMNS`, ``total`` the patients of the group.

    Raises
    ------
    ValidationError
        For a page or page size below 1, or a group that is not among the groups.
    """
    if page_size < 1 or page < 1:
        raise ValidationError(
            f"page {page} of {page_size} rows: the page and the page size must be at least 1"
        )
    member = (found.groups == group).to_numpy()
    if not member.any():
        present = ", ".join(sorted(map(str, found.groups.unique())))
        raise ValidationError(f"no group {group!r} in this comparison; choose one of {present}")
    rows = np.flatnonzero(member)[
        _by_center_and_pseudonym(found.cohort.loc[member, ["center", "pseudonym"]])
    ]
    total = int(rows.size)
    page = min(page, max(1, -(-total // page_size)))
    start = (page - 1) * page_size
    shown = found.cohort.iloc[rows[start : start + page_size]][MEMBER_COLUMNS]
    return CohortPage(shown.reset_index(drop=True), total, page, page_size)


def _by_center_and_pseudonym(rows: pd.DataFrame) -> np.ndarray:
    """The positions of ``rows`` sorted by center, then pseudonym, ties in their order (as
    a stable ``sort_values``): the names compared as fixed-width strings in C and the centers
    by their sorted codes, not 100,000 strings compared as Python objects."""
    centers, pseudonyms = rows["center"].to_numpy(), rows["pseudonym"].to_numpy()
    if pd.isna(centers).any() or pd.isna(pseudonyms).any():  # missing last, as pandas sorts
        sorted_rows = rows.reset_index(drop=True).sort_values(
            ["center", "pseudonym"], kind="stable"
        )
        return sorted_rows.index.to_numpy()
    order = np.argsort(pseudonyms.astype(str), kind="stable")
    codes = pd.factorize(centers, sort=True)[0]
    return order[np.argsort(codes[order], kind="stable")]
