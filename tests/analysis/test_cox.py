"""Cox hazard ratios: a published fit, recovered simulated parameters, the PH check, errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from gistcad.analysis.cox import CoxResult, cox_hazard_ratios, fit_cox, schoenfeld_residuals
from gistcad.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def freireich() -> pd.DataFrame:
    return pd.read_csv(DATA / "freireich_6mp.csv")


@pytest.fixture(scope="module")
def freireich_fit(freireich: pd.DataFrame) -> CoxResult:
    return cox_hazard_ratios(freireich["weeks"], freireich["relapse"], freireich["group"], "6-MP")


def test_freireich_hazard_ratio_matches_published(freireich_fit: CoxResult) -> None:
    # Placebo vs 6-MP with Efron's handling of ties (lifelines' and R's coxph default):
    # coef 1.57, se 0.412, HR 4.82 — Venables & Ripley, Modern Applied Statistics with S,
    # 4th ed. (2002), §13.3, coxph(Surv(time, cens) ~ treat, data = gehan).
    # Kleinbaum & Klein (Survival Analysis: A Self-Learning Text, ch. 3) print coef 1.509,
    # HR 4.523 for the same model fitted with Breslow's ties (Stata's default), which
    # lifelines does not offer, so those numbers are not used here.
    row = freireich_fit.table.iloc[0]
    assert row["term"] == "group: placebo vs 6-MP"
    assert (row["variable"], row["level"], row["reference"]) == ("group", "placebo", "6-MP")
    assert row["coef"] == pytest.approx(1.572, abs=1e-3)
    assert row["se"] == pytest.approx(0.412, abs=1e-3)
    assert row["hr"] == pytest.approx(4.82, abs=5e-3)
    # Wald interval exp(1.572 ± 1.96 · 0.412) = 2.15 to 10.8; p = 0.00014 (z = 3.81)
    assert row["ci_lower"] == pytest.approx(2.15, abs=5e-3)
    assert row["ci_upper"] == pytest.approx(10.8, abs=0.05)
    assert row["p"] == pytest.approx(0.00014, abs=1e-5)
    assert freireich_fit.n == 42 and freireich_fit.n_events == 30
    assert freireich_fit.reference_levels == {"group": "6-MP"}


def test_swapping_the_reference_inverts_the_hazard_ratio(
    freireich: pd.DataFrame, freireich_fit: CoxResult
) -> None:
    swapped = cox_hazard_ratios(
        freireich["weeks"], freireich["relapse"], freireich["group"], "placebo"
    )
    assert swapped.table["term"].iloc[0] == "group: 6-MP vs placebo"
    assert swapped.table["hr"].iloc[0] == pytest.approx(1 / freireich_fit.table["hr"].iloc[0])


def test_no_lifelines_object_leaks(freireich_fit: CoxResult) -> None:
    for value in vars(freireich_fit).values():
        assert not type(value).__module__.startswith("lifelines")
    assert list(freireich_fit.table.columns) == [
        "term",
        "variable",
        "level",
        "reference",
        "coef",
        "se",
        "hr",
        "ci_lower",
        "ci_upper",
        "p",
    ]


def test_proportional_hazards_check_has_a_verdict_per_term(freireich_fit: CoxResult) -> None:
    ph = freireich_fit.ph_test
    assert ph["term"].tolist() == ["group: placebo vs 6-MP"]
    assert ph["p"].iloc[0] > 0.05
    assert ph["verdict"].iloc[0].startswith("no evidence against proportional hazards")


def test_crossing_hazards_are_flagged() -> None:
    rng = np.random.default_rng(1)
    n = 150
    # exponential (constant hazard) vs Weibull shape 4 (rising hazard): not proportional
    times = np.r_[rng.exponential(10, n), 10 * rng.weibull(4, n)]
    result = cox_hazard_ratios(times, np.ones(2 * n), ["a"] * n + ["b"] * n, "a")
    assert result.ph_test["p"].iloc[0] < 0.001
    assert result.ph_test["verdict"].iloc[0].startswith("hazards may not be proportional")


def test_recovers_simulated_hazard_ratios_with_covariates() -> None:
    rng = np.random.default_rng(2)
    n = 1500
    group = rng.choice(["a", "b"], n)
    age = rng.normal(size=n)
    risk = rng.choice(["low", "high", "mid"], n, p=[0.5, 0.3, 0.2])
    log_hazard = np.log(2) * (group == "b") + 0.5 * age + np.log(3) * (risk == "high")
    event_time = rng.exponential(1 / np.exp(log_hazard))
    censor_time = rng.exponential(2, n)
    result = cox_hazard_ratios(
        np.minimum(event_time, censor_time),
        (event_time <= censor_time).astype(int),
        group,
        "a",
        pd.DataFrame({"age": age, "risk": risk}),
    )
    table = result.table.set_index("term")
    assert table.loc["group: b vs a", "hr"] == pytest.approx(2.0, rel=0.1)
    assert table.loc["age", "coef"] == pytest.approx(0.5, abs=0.08)
    assert table.loc["risk: high vs low", "hr"] == pytest.approx(3.0, rel=0.15)
    assert table.loc["risk: mid vs low", "ci_lower"] < 1 < table.loc["risk: mid vs low", "ci_upper"]
    # the most frequent level is the reference unless the column is an ordered Categorical
    assert result.reference_levels == {"group": "a", "risk": "low"}


def test_categorical_first_category_is_the_reference() -> None:
    rng = np.random.default_rng(4)
    n = 80
    risk = pd.Categorical(rng.choice(["low", "high"], n, p=[0.8, 0.2]), categories=["high", "low"])
    result = cox_hazard_ratios(
        rng.exponential(5, n),
        rng.integers(0, 2, n),
        rng.choice(["a", "b"], n),
        "a",
        pd.DataFrame({"risk": risk}),
    )
    assert result.reference_levels["risk"] == "high"
    assert "risk: low vs high" in result.table["term"].tolist()


def test_group_without_events_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match=r"group 'b' has no events .* merge it"):
        cox_hazard_ratios([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], list("aaabbb"), "a")


@pytest.mark.parametrize(
    ("reference", "covariates", "message"),
    [
        ("c", None, "reference group 'c' is not among the groups"),
        (
            "a",
            pd.DataFrame({"age": [1.0, np.nan, 3, 4, 5, 6]}),
            r"covariate 'age' is missing at row\(s\) 1",
        ),
        ("a", pd.DataFrame({"site": ["x"] * 6}), "'site' takes a single value"),
        ("a", pd.DataFrame({"age": [7] * 6}), r"term\(s\) \['age'\] take a single value"),
        ("a", pd.DataFrame({"age": [1, 2]}), "covariates has 2 rows"),
    ],
)
def test_bad_model_input_is_rejected(
    reference: str, covariates: pd.DataFrame | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        cox_hazard_ratios(
            [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], list("ababab"), reference, covariates
        )


def test_separated_groups_give_a_clear_error() -> None:
    # every event in group a precedes every time in group b: the likelihood has no maximum
    with pytest.raises(ValidationError, match="no finite hazard ratio"):
        cox_hazard_ratios([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 0], list("aaabbb"), "a")


def test_single_group_is_rejected() -> None:
    with pytest.raises(ValidationError, match="at least two groups"):
        cox_hazard_ratios([1, 2, 3], [1, 1, 0], ["a", "a", "a"], "a")


def test_schoenfeld_residuals_with_efron_ties_match_a_hand_computation() -> None:
    # beta = 0, so every phi = 1. Times 1, 1, 2 (all events), x = 1, 0, 1.
    # t = 1: d = 2, risk set sums 3 and 2, tie sums 2 and 1; Efron's mean is
    # (2/3 + (2 - 1/2)/(3 - 1)) / 2 = 17/24; residuals 1 - 17/24 and 0 - 17/24.
    # t = 2: the risk set is patient 3 alone, mean 1, residual 0.
    residuals = schoenfeld_residuals(
        np.array([[1.0], [0.0], [1.0]]),
        np.array([1.0, 1.0, 2.0]),
        np.array([True, True, True]),
        np.array([0.0]),
    )
    np.testing.assert_allclose(residuals[:, 0], [7 / 24, -17 / 24, 0.0])


def test_schoenfeld_residuals_skip_censored_rows_and_weight_by_phi() -> None:
    # beta = log 2: phi = 2 for x = 1, 1 for x = 0. Times 1 (event, x=1), 2 (censored, x=0),
    # 3 (event, x=0). t = 1: mean = (2 + 0 + 0) / (2 + 1 + 1) = 1/2, residual 1/2.
    # t = 3: risk set patient 3 alone, residual 0.
    residuals = schoenfeld_residuals(
        np.array([[1.0], [0.0], [0.0]]),
        np.array([1.0, 2.0, 3.0]),
        np.array([True, False, True]),
        np.array([np.log(2.0)]),
    )
    np.testing.assert_allclose(residuals[:, 0], [0.5, 0.0])


def test_vectorised_ph_check_equals_lifelines_on_a_cohort_with_ties() -> None:
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    rng = np.random.default_rng(7)
    n = 600
    groups = rng.choice(["a", "b", "c"], size=n)
    age = rng.normal(60, 10, n)
    hazard = np.exp(0.5 * (groups == "b") - 0.4 * (groups == "c") + 0.02 * (age - 60))
    times = np.round(rng.weibull(1.5, n) / hazard * 10)  # whole units: many ties
    censor = rng.uniform(2, 25, n)
    durations = np.minimum(times, np.round(censor)) + 1
    events = (times <= np.round(censor)).astype(int)
    result = cox_hazard_ratios(
        durations, events, groups, "a", covariates=pd.DataFrame({"age": age})
    )
    data = pd.DataFrame(
        {
            "x0": (groups == "b").astype(float),
            "x1": (groups == "c").astype(float),
            "x2": age,
            "duration": durations,
            "event": events,
        }
    )
    # lifelines by default stops at a relative change of the likelihood of 1e-9, leaving the
    # coefficients ~1e-5 from the maximum; fitted to convergence, both give the same model
    fitter = CoxPHFitter().fit(
        data,
        duration_col="duration",
        event_col="event",
        fit_options={"precision": 1e-12, "r_precision": 0.0},
    )
    expected = proportional_hazard_test(fitter, data, time_transform="rank").summary
    np.testing.assert_allclose(
        result.ph_test["statistic"], expected["test_statistic"].to_numpy(), rtol=1e-8
    )
    np.testing.assert_allclose(result.ph_test["p"], expected["p"].to_numpy(), rtol=1e-8)


def test_fit_without_ties_matches_the_closed_form_maximum() -> None:
    # Times 1, 2, 3, 4, all events, x = 1, 0, 1, 0; with u = exp(beta) the partial
    # likelihood is u/(2u+2) · 1/(u+2) · u/(u+1) · 1, whose score 2/(u+1) − u/(u+2) = 0 gives
    # u² − u − 4 = 0, u = (1 + √17)/2; the information is 2u/(u+1)² + 2u/(u+2)².
    fit = fit_cox([[1.0], [0.0], [1.0], [0.0]], [1, 2, 3, 4], [1, 1, 1, 1])
    u = (1.0 + np.sqrt(17.0)) / 2.0
    information = 2 * u / (u + 1) ** 2 + 2 * u / (u + 2) ** 2
    assert fit.coef[0] == pytest.approx(np.log(u), abs=1e-9)
    assert fit.se[0] == pytest.approx(1.0 / np.sqrt(information), abs=1e-9)
    expected_ll = 2 * np.log(u) - np.log(2 * u + 2) - np.log(u + 2) - np.log(u + 1)
    assert fit.log_likelihood == pytest.approx(expected_ll, abs=1e-9)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_fit_with_tied_events_maximises_the_hand_written_likelihood(ties: str) -> None:
    # (time, event, x): (1,1,1), (1,1,0), (2,1,0), (3,1,1), (3,0,0). At time 1 all five are
    # at risk (sum of phi 2u+3) and two die (u+1): Efron's second denominator is
    # 2u+3 − (u+1)/2, Breslow's 2u+3 again; then 1/(u+2) at time 2 and u/(u+1) at time 3.
    def log_likelihood(beta: float) -> float:
        u = np.exp(beta)
        second = 1.5 * u + 2.5 if ties == "efron" else 2 * u + 3
        return float(2 * beta - np.log(2 * u + 3) - np.log(second) - np.log(u + 2) - np.log(u + 1))

    def score(beta: float) -> float:
        h = 1e-6
        return (log_likelihood(beta + h) - log_likelihood(beta - h)) / (2 * h)

    fit = fit_cox([[1.0], [0.0], [0.0], [1.0], [0.0]], [1, 1, 2, 3, 3], [1, 1, 1, 1, 0], ties=ties)
    root = optimize.brentq(score, -5.0, 5.0, xtol=1e-12)
    assert fit.coef[0] == pytest.approx(root, abs=1e-6)
    assert fit.log_likelihood == pytest.approx(log_likelihood(root), abs=1e-9)
    h = 1e-4
    curvature = (
        log_likelihood(root + h) - 2 * log_likelihood(root) + log_likelihood(root - h)
    ) / h**2
    assert fit.se[0] == pytest.approx(1.0 / np.sqrt(-curvature), rel=1e-5)


def test_breslow_ties_match_the_published_freireich_fit(freireich: pd.DataFrame) -> None:
    # Kleinbaum & Klein, Survival Analysis: A Self-Learning Text (ch. 3), Stata's default
    # Breslow ties: placebo vs 6-MP coef 1.509, HR 4.523.
    result = cox_hazard_ratios(
        freireich["weeks"], freireich["relapse"], freireich["group"], "6-MP", ties="breslow"
    )
    row = result.table.iloc[0]
    assert row["coef"] == pytest.approx(1.509, abs=1e-3)
    assert row["hr"] == pytest.approx(4.523, abs=5e-3)
    assert result.ties == "breslow"


def test_fit_equals_lifelines_on_a_cohort_with_ties_and_covariates() -> None:
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(11)
    n = 400
    x = np.column_stack([rng.integers(0, 2, n), rng.integers(0, 2, n), rng.normal(0, 1, n)]).astype(
        float
    )
    hazard = np.exp(x @ np.array([0.6, -0.4, 0.3]))
    times = np.ceil(rng.exponential(8.0, n) / hazard)  # whole units: many ties
    censor = np.ceil(rng.uniform(2, 20, n))
    durations, events = np.minimum(times, censor), (times <= censor).astype(float)
    fit = fit_cox(x, durations, events)
    data = pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=durations, e=events)
    reference = CoxPHFitter().fit(
        data, "t", "e", fit_options={"precision": 1e-12, "r_precision": 0.0}
    )
    np.testing.assert_allclose(fit.coef, reference.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(fit.se, reference.standard_errors_.to_numpy(), atol=1e-6)
    assert fit.log_likelihood == pytest.approx(reference.log_likelihood_, abs=1e-6)


def test_duplicated_patients_leave_the_breslow_coefficients_unchanged() -> None:
    # With Breslow's ties, duplicating every patient doubles every risk-set sum: each of the
    # 2D event terms log(phi / 2S) is log(phi / S) − log 2, so the log likelihood becomes
    # 2 ll − 2D log 2, the score doubles and the coefficients stay where they were.
    rng = np.random.default_rng(3)
    n = 300
    x = rng.integers(0, 2, (n, 2)).astype(float)
    durations = np.ceil(rng.exponential(10.0, n))
    events = rng.integers(0, 2, n).astype(float)
    once = fit_cox(x, durations, events, ties="breslow")
    twice = fit_cox(np.vstack([x, x]), np.tile(durations, 2), np.tile(events, 2), ties="breslow")
    np.testing.assert_allclose(twice.coef, once.coef, atol=1e-9)
    np.testing.assert_allclose(twice.se, once.se / np.sqrt(2.0), rtol=1e-9)
    expected = 2 * once.log_likelihood - 2 * events.sum() * np.log(2.0)
    assert twice.log_likelihood == pytest.approx(expected, rel=1e-12)


def _efron_log_likelihood(
    x: np.ndarray, times: np.ndarray, events: np.ndarray, beta: np.ndarray
) -> float:
    """Efron's log partial likelihood, patient by patient (the textbook loop)."""
    eta = x @ beta
    phi = np.exp(eta)
    total = 0.0
    for t in np.unique(times[events == 1]):
        dying = (times == t) & (events == 1)
        d = int(dying.sum())
        at_risk, tied = phi[times >= t].sum(), phi[dying].sum()
        total += eta[dying].sum() - sum(np.log(at_risk - k / d * tied) for k in range(d))
    return float(total)


def test_patients_sharing_time_and_covariates_are_summed_exactly() -> None:
    # groups and binary covariates with whole-month times: many patients per (time, pattern)
    # cell, each cell summed once; the fit must still maximise the per-patient likelihood
    from gistcad.analysis.cox import Ties, _risk_sets

    rng = np.random.default_rng(19)
    n = 600
    group = rng.integers(0, 4, n)
    x = np.column_stack([group == 1, group == 2, group == 3, rng.integers(0, 2, n)]).astype(float)
    times = np.ceil(rng.exponential(6.0, n) / np.exp(x @ np.array([0.5, -0.3, 0.8, 0.2])))
    events = (rng.random(n) < 0.7).astype(float)
    order = np.lexsort((events, times))
    cells = _risk_sets(x[order], times[order], events[order], Ties.EFRON)
    assert cells.weight.size < n / 3  # the test exercises the summing of cells
    assert cells.weight.sum() == n and cells.events.sum() == events.sum()
    fit = fit_cox(x, times, events)
    assert fit.log_likelihood == pytest.approx(
        _efron_log_likelihood(x, times, events, fit.coef), abs=1e-9
    )
    h = 1e-5
    for k in range(x.shape[1]):  # the score of the per-patient likelihood is 0 at the fit
        step = np.eye(x.shape[1])[k] * h
        up = _efron_log_likelihood(x, times, events, fit.coef + step)
        down = _efron_log_likelihood(x, times, events, fit.coef - step)
        assert (up - down) / (2 * h) == pytest.approx(0.0, abs=1e-5)
    # the information matches the per-patient curvature (diagonal by finite differences)
    for k in range(x.shape[1]):
        step = np.eye(x.shape[1])[k] * 1e-4
        curvature = (
            _efron_log_likelihood(x, times, events, fit.coef + step)
            - 2 * fit.log_likelihood
            + _efron_log_likelihood(x, times, events, fit.coef - step)
        ) / 1e-8
        information = np.linalg.inv(fit.variance)
        assert information[k, k] == pytest.approx(-curvature, rel=1e-4)


def test_ph_statistics_equal_the_rank_weighted_scaled_schoenfeld_residuals() -> None:
    """The PH statistics sum the residuals without listing them: equal to the Grambsch–
    Therneau formula over :func:`schoenfeld_residuals` row by row, with many tied event times
    (Efron) and censored rows among them."""
    from gistcad.analysis.cox import ph_test_statistics

    rng = np.random.default_rng(12)
    n, p = 600, 3
    design = np.column_stack([rng.integers(0, 2, n), rng.integers(0, 2, n), rng.normal(size=n)])
    times = rng.integers(1, 25, n).astype(float)
    events = rng.random(n) < 0.7
    order = np.lexsort((events, times))
    design, times, events = design[order], times[order], events[order]
    beta = np.array([0.4, -0.3, 0.2])
    root = rng.normal(size=(p, p))
    variance = root @ root.T / 50 + np.eye(p) * 0.01
    residuals = schoenfeld_residuals(design, times, events, beta)
    d = events.sum()
    rank = np.arange(1, d + 1, dtype=float)  # the k-th event's rank among the events
    g = rank - rank.mean()
    scaled = d * residuals @ variance
    expected = (g @ scaled) ** 2 / (d * np.diag(variance) * (g**2).sum())
    statistic, p_values = ph_test_statistics(design, times, events, beta, variance)
    np.testing.assert_allclose(statistic, expected, rtol=1e-10)
    assert np.all((p_values > 0) & (p_values <= 1))
    assert len(np.unique(times[events])) < d / 10  # many ties
