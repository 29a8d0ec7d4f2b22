"""Reads that scale: the bulk seeding, the cohort counted and paged by the database, and the
lean column selection, on both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from gistcad.domain import GenotypeGroup, RiskClass, RiskScheme
from gistcad.errors import ValidationError
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import Center, Outcome, Patient, Prediction, Tumour
from gistcad.store.queries import (
    COHORT_COLUMNS,
    CohortFilter,
    cohort_count,
    cohort_page,
    cohort_table,
)
from gistcad.store.seeding import N_CENTERS, seed_cohort
from tests.conftest import BACKENDS
from tests.factories import add_patient

EVERYONE = AccessScope.everything()


@pytest.fixture
def seeded_engine(engine: Engine) -> Engine:
    seed_cohort(engine, 240, seed=1)
    return engine


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_seeding_writes_every_row_and_repeats_itself(empty_engine: Engine) -> None:
    from gistcad.store import migrations

    migrations.upgrade(empty_engine)
    first = seed_cohort(empty_engine, 150, seed=3)
    assert first.patients == 150 and len(first.centers) == N_CENTERS
    with session_scope(empty_engine) as session:
        for model in (Patient, Tumour, Outcome, Prediction):
            assert session.scalar(select(func.count()).select_from(model)) == 150
        table = cohort_table(session, EVERYONE)
        # ties in follow-up (times to 0.1 month), every center used, events and censoring
        assert table["rfs_months"].dropna().duplicated().any()
        assert table["center"].nunique() == N_CENTERS
        assert set(table["rfs_event"].dropna()) == {0, 1}
    again = seed_cohort(empty_engine, 150, seed=3)  # ids continue; same values again
    assert again.model_version_id == first.model_version_id
    with session_scope(empty_engine) as session:
        table = cohort_table(session, EVERYONE)
        assert len(table) == 300
        halves = table.sort_values("patient_id")
        first_half = halves.iloc[:150].drop(columns=["patient_id", "pseudonym"])
        second_half = halves.iloc[150:].drop(columns=["patient_id", "pseudonym"])
        pd.testing.assert_frame_equal(
            first_half.reset_index(drop=True), second_half.reset_index(drop=True)
        )
        # an ORM insert after the bulk one gets a fresh id (PostgreSQL's sequence moved on)
        center = session.scalars(select(Center).where(Center.name == "Scale center 01")).one()
        patient = add_patient(session, center, "after-seed")
        session.flush()
        assert patient.id > int(table["patient_id"].max())


def test_seeding_refuses_nothing_to_write(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="at least one patient"):
        seed_cohort(engine, 0)


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_pages_cover_the_filtered_cohort_in_order_without_overlap(empty_engine: Engine) -> None:
    from gistcad.store import migrations

    migrations.upgrade(empty_engine)
    seed_cohort(empty_engine, 240, seed=1)
    filters = [
        CohortFilter(),
        CohortFilter(genotype_groups=frozenset({GenotypeGroup.KIT11}), age_range=(40, 80)),
        CohortFilter(
            risk_scheme=RiskScheme.MODIFIED_NIH_2008,
            risk_classes=frozenset({RiskClass.HIGH, None}),
        ),
    ]
    with session_scope(empty_engine) as session:
        for flt in filters:
            whole = cohort_table(session, EVERYONE, flt)
            assert 0 < len(whole) <= 240
            assert cohort_count(session, EVERYONE, flt) == len(whole)
            pages = []
            first = cohort_page(session, EVERYONE, flt, page=1, page_size=50)
            assert first.total == len(whole)
            assert first.pages == -(-len(whole) // 50)
            for number in range(1, first.pages + 1):
                page = cohort_page(session, EVERYONE, flt, page=number, page_size=50)
                assert page.page == number and len(page.rows) <= 50
                assert page.first_row == (number - 1) * 50 + 1
                assert list(page.rows.columns) == COHORT_COLUMNS
                pages.append(page.rows)
            pd.testing.assert_frame_equal(pd.concat(pages, ignore_index=True), whole)


def test_a_page_past_the_end_is_the_last_and_bad_pages_are_refused(
    seeded_engine: Engine,
) -> None:
    with session_scope(seeded_engine) as session:
        last = cohort_page(session, EVERYONE, page=99, page_size=100)
        assert (last.page, last.pages, len(last.rows)) == (3, 3, 40)
        empty = cohort_page(session, EVERYONE, CohortFilter(centers=frozenset({"nowhere"})))
        assert (empty.total, empty.page, empty.pages, empty.first_row) == (0, 1, 1, 0)
        assert empty.rows.empty
        with pytest.raises(ValidationError, match="at least 1"):
            cohort_page(session, EVERYONE, page=1, page_size=0)


def test_a_few_columns_are_the_same_values_as_all_columns(seeded_engine: Engine) -> None:
    with session_scope(seeded_engine) as session:
        whole = cohort_table(session, EVERYONE)
        few = cohort_table(session, EVERYONE, columns=["center", "genotype_group", "rfs_event"])
        assert list(few.columns) == ["patient_id", "center", "genotype_group", "rfs_event"]
        pd.testing.assert_frame_equal(few, whole[list(few.columns)])
        with pytest.raises(ValidationError, match="unknown cohort column"):
            cohort_table(session, EVERYONE, columns=["shoe_size"])


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_the_read_by_patient_id_holds_the_same_rows(empty_engine: Engine) -> None:
    from gistcad.store import migrations

    migrations.upgrade(empty_engine)
    seed_cohort(empty_engine, 200, seed=5)
    with session_scope(empty_engine) as session:
        shown = cohort_table(session, EVERYONE)
        by_id = cohort_table(session, EVERYONE, ordered=False)
    assert by_id["patient_id"].is_monotonic_increasing
    assert not shown["patient_id"].is_monotonic_increasing  # shown by center, pseudonym
    pd.testing.assert_frame_equal(
        by_id, shown.sort_values("patient_id").reset_index(drop=True), check_like=False
    )


def test_survival_statistics_do_not_depend_on_the_order_of_the_rows(
    seeded_engine: Engine,
) -> None:
    from gistcad.analysis.cohort_survival import build_request, cohort_survival

    request = build_request(by="center", adjust="age")
    with session_scope(seeded_engine) as session:
        cohort = cohort_table(session, EVERYONE)
    shuffled = cohort.sample(frac=1.0, random_state=4).reset_index(drop=True)
    first = cohort_survival(cohort, request).comparison
    second = cohort_survival(shuffled, request).comparison
    assert first.cox is not None and second.cox is not None
    pd.testing.assert_frame_equal(first.summary, second.summary)
    pd.testing.assert_frame_equal(first.cox.table, second.cox.table, rtol=1e-9)


def test_a_group_is_listed_a_page_at_a_time(seeded_engine: Engine) -> None:
    from gistcad.analysis.cohort_survival import build_request
    from gistcad.survival import group_members, survival_for

    with session_scope(seeded_engine) as session:
        found = survival_for(session, EVERYONE, CohortFilter(), build_request(by="genotype"))
    group = found.groups.value_counts().index[0]
    size = int((found.groups == group).sum())
    assert size > 30
    pages = [group_members(found, group, page=p, page_size=30) for p in range(1, 30)]
    assert {page.total for page in pages} == {size}
    last = pages[0].pages
    assert last == -(-size // 30) and pages[last - 1].page == pages[last].page == last
    listed = pd.concat([page.rows for page in pages[:last]], ignore_index=True)
    members = found.cohort.loc[found.groups == group]
    assert sorted(listed["pseudonym"]) == sorted(members["pseudonym"])  # each once
    assert list(listed["center"] + listed["pseudonym"]) == sorted(
        listed["center"] + listed["pseudonym"]
    )
    assert len(pages[0].rows) == 30 and pages[0].first_row == 1
    with pytest.raises(ValidationError, match="no group 'Martian'"):
        group_members(found, "Martian")
    with pytest.raises(ValidationError, match="at least 1"):
        group_members(found, group, page=0)


@pytest.mark.parametrize("missing", [False, True])
def test_group_members_order_is_a_stable_sort_by_center_and_pseudonym(missing: bool) -> None:
    """The order of a group's list equals pandas' stable sort by (center, pseudonym):
    code-point order of the names (accents, case, digits), ties kept in their order, and
    with a missing name, missing last."""
    from gistcad.survival import _by_center_and_pseudonym

    rng = np.random.default_rng(8)
    names = ["b-02", "B-01", "a-10", "a-9", "é-1", "a-10", "Z", "b-02"]
    rows = pd.DataFrame(
        {
            "center": rng.choice(["Lyon", "Essen", "Århus", "essen"], 40),
            "pseudonym": rng.choice(names, 40),
        },
        index=rng.permutation(40) + 100,  # the order is by position, whatever the labels
    )
    if missing:
        rows.loc[rows.index[[3, 7]], "pseudonym"] = None
        rows.loc[rows.index[5], "center"] = None
    expected = rows.reset_index(drop=True).sort_values(["center", "pseudonym"], kind="stable")
    assert _by_center_and_pseudonym(rows).tolist() == expected.index.tolist()
