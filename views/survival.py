"""Survival: Kaplan-Meier by any clinical variable, predicted status, risk class or center."""

from dataclasses import replace
from typing import Any

import streamlit as st

from gistcad.analysis.cohort_survival import (
    ADJUSTABLE,
    CohortSurvival,
    build_request,
    default_times,
    parse_times,
)
from gistcad.analysis.kaplan_meier import CI_METHOD
from gistcad.analysis.prediction_source import VALIDATION_LABELS
from gistcad.analysis.time_to_event import TimeUnit
from gistcad.display import cell_text, column_label, display_table
from gistcad.domain import GROUPING_LABELS, Endpoint, Grouping, RiskScheme, StatusSplit
from gistcad.errors import GistcadError, ValidationError
from gistcad.plots.forest import forest_figure
from gistcad.plots.survival import format_p_value, km_figure, km_panels
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions
from gistcad.store.queries import CohortFilter, center_names
from gistcad.survival import CohortSurvivalResult, group_members, survival_for
from views.common import (
    audited_csv,
    engine,
    scope,
    show_demo_training,
    show_error,
    show_figure,
    show_table,
)

DEFAULT_CUTS = {Grouping.AGE: "tertiles", Grouping.SIZE: "5,10", Grouping.MITOSES: "5,10"}
#: the scheme offered first
SCHEMES = [RiskScheme.MODIFIED_NIH_2008, RiskScheme.NIH_2002, RiskScheme.AFIP_2006]
ENDPOINTS: list[Endpoint] = list(Endpoint)
GROUPINGS: list[Grouping] = list(GROUPING_LABELS)
UNITS: list[TimeUnit] = list(TimeUnit)
SPLITS: list[StatusSplit] = list(StatusSplit)

st.title("Survival")

#: the page's settings in its address (share the link to share the analysis), by widget key
ADDRESS = {
    "survival_endpoint": "endpoint",
    "survival_by": "by",
    "survival_centers": "centers",
    "survival_time_unit": "unit",
    "survival_model": "model",
    "survival_split": "split",
    "survival_threshold": "threshold",
    "survival_in_sample": "in_sample",
    "survival_scheme": "scheme",
    "survival_cuts": "cuts",
    "survival_times": "times",
    "survival_min": "min_group",
    "survival_landmark": "landmark",
    "survival_adjust": "adjust",
    "survival_reference": "reference",
    "survival_test_unknown": "test_unknown",
}
LISTS = {"centers", "adjust"}
asked = {name: st.query_params.get_all(name) for name in ADDRESS.values()}


def _asked(name: str) -> str | None:
    values = asked.get(name) or []
    return values[-1] if values else None


def _index(options: list[Any], name: str, default: int = 0) -> int:
    """The option named in the address (by its value), else ``default``."""
    text = _asked(name)
    values = [str(getattr(o, "value", o)) for o in options]
    return values.index(text) if text in values else default


def _number(name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(_asked(name) or default)
    except ValueError:
        return default
    return value if low <= value <= high else default


def _flag(name: str) -> bool:
    return _asked(name) in ("1", "true", "yes")


def _keep_in_address(defaults: dict[str, object]) -> None:
    """Write the settings that differ from their defaults into the address."""
    query: dict[str, str | list[str]] = {}
    for key, name in ADDRESS.items():
        if key not in st.session_state:
            continue
        value = st.session_state[key]
        if name in LISTS:
            items = [str(getattr(v, "value", v)) for v in value]
            if items:
                query[name] = items
            continue
        if value == defaults.get(name):
            continue
        if isinstance(value, bool):
            query[name] = "1" if value else "0"
        else:
            query[name] = (
                f"{value:g}" if isinstance(value, float) else str(getattr(value, "value", value))
            )
    current = {name: st.query_params.get_all(name) for name in st.query_params}
    wanted = {name: v if isinstance(v, list) else [v] for name, v in query.items()}
    if current != wanted:
        st.query_params.from_dict(query)


training = show_demo_training(
    "Grouping by a model's predictions offers each model once it has predicted every patient."
)
with session_scope(engine()) as session:
    centers = center_names(session, scope())
    models = list_model_versions(session)

controls = st.columns(4)
endpoint = controls[0].radio(
    "Endpoint",
    ENDPOINTS,
    index=_index(ENDPOINTS, "endpoint"),
    format_func=lambda e: e.label,
    key="survival_endpoint",
    horizontal=True,
)
by = controls[1].selectbox(
    "Group by",
    GROUPINGS,
    format_func=lambda g: g.label,
    key="survival_by",
    index=_index(GROUPINGS, "by", 1),
)
chosen_centers = controls[2].multiselect(
    "Centers",
    centers,
    default=[c for c in asked["centers"] if c in centers],
    key="survival_centers",
)
unit = controls[3].selectbox(
    "Time unit",
    UNITS,
    index=_index(UNITS, "unit", 2),
    format_func=str.capitalize,
    key="survival_time_unit",
)

options = st.columns(4)
model_id = None
split, threshold, scheme = StatusSplit.KIT11, 0.5, RiskScheme.MODIFIED_NIH_2008
in_sample = False
by_text = by.value
if by is Grouping.PREDICTED:
    if models.empty:
        if not training:
            st.info("No model has made predictions yet; group by true genotype, risk or center.")
        st.stop()
    model_ids = models["model_version_id"].tolist()
    model_id = options[0].selectbox(
        "Model",
        model_ids,
        index=_index(model_ids, "model"),
        format_func=lambda i: models.set_index("model_version_id").loc[i, "name"],
        key="survival_model",
    )
    split = options[1].selectbox(
        "Split",
        SPLITS,
        index=_index(SPLITS, "split"),
        format_func=lambda s: s.label,
        key="survival_split",
    )
    threshold = options[2].slider(
        "Threshold",
        0.05,
        0.95,
        _number("threshold", 0.5, 0.05, 0.95),
        0.05,
        key="survival_threshold",
        disabled=split is StatusSplit.FOUR_CLASS,
    )
    in_sample = options[3].toggle(
        "In-sample predictions",
        value=_flag("in_sample"),
        key="survival_in_sample",
        help="Group the model's own training patients by the final model's predictions of "
        "them. In-sample: this overstates the separation of the curves. Off (default): "
        "their out-of-fold predictions.",
    )
if by is Grouping.RISK:
    scheme = options[0].selectbox(
        "Scheme",
        SCHEMES,
        index=_index(SCHEMES, "scheme"),
        format_func=lambda s: s.label,
        key="survival_scheme",
    )
if by.is_numeric:
    cuts = options[0].text_input(
        "Cut points or quantiles",
        _asked("cuts") or DEFAULT_CUTS[by],
        key="survival_cuts",
        help="Cut points (5,10) or quantiles: median, tertiles, quartiles, quintiles.",
    )
    by_text = f"{by.value}:{cuts}"
with st.expander("More options"):
    more = st.columns(3)
    times_text = more[0].text_input(
        f"Times ({unit.value})",
        _asked("times") or "",
        placeholder=", ".join(f"{t:g}" for t in default_times(unit)),
        key="survival_times",
        help="Separated by commas, semicolons or spaces; a time may carry its unit (1y, 18m).",
    )
    min_size = more[1].number_input(
        "Minimum group size", 1, 100, int(_number("min_group", 10, 1, 100)), key="survival_min"
    )
    landmark = more[2].number_input(
        "Landmark (months, 0 = none)",
        0.0,
        240.0,
        _number("landmark", 0.0, 0.0, 240.0),
        3.0,
        key="survival_landmark",
    )
    more = st.columns(3)
    adjustable = [a for a in ADJUSTABLE if a != Grouping.PREDICTED or model_id is not None]
    adjust = more[0].multiselect(
        "Adjust hazard ratios for",
        adjustable,
        default=[a for a in asked["adjust"] if a in adjustable],
        format_func=lambda a: Grouping(a).label,
        key="survival_adjust",
        help="Numbers (age, size, mitoses) enter per unit.",
    )
    reference = more[1].text_input(
        "Reference group (blank: the lowest of ordered groups, else the largest)",
        _asked("reference") or "",
        key="survival_reference",
    )
    test_unknown = more[2].toggle(
        "Test the Unknown / No prediction groups too",
        _flag("test_unknown"),
        key="survival_test_unknown",
    )

_keep_in_address(
    {
        "endpoint": ENDPOINTS[0],
        "by": GROUPINGS[1],
        "unit": UNITS[2],
        "model": None if models.empty else models["model_version_id"].iloc[0],
        "split": SPLITS[0],
        "threshold": 0.5,
        "in_sample": False,
        "scheme": SCHEMES[0],
        "cuts": DEFAULT_CUTS.get(by),
        "times": "",
        "min_group": 10,
        "landmark": 0.0,
        "reference": "",
        "test_unknown": False,
    }
)

try:
    times: tuple[float, ...] | None = parse_times(times_text, unit) if times_text.strip() else None
except ValidationError as exc:
    times = None
    st.warning(
        f"{exc}. The figure shows the default times "
        f"({', '.join(f'{t:g}' for t in default_times(unit))} {unit.value}) meanwhile.",
        icon=":material/warning:",
    )


def _predicted_title(result: CohortSurvival, validation: str | None) -> str:
    if result.in_sample:
        return "By predicted status: IN-SAMPLE (overstates the separation)"
    if validation:
        return f"By predicted status: out-of-fold ({VALIDATION_LABELS.get(validation, validation)})"
    return "By predicted status"


def _show_sources(result: CohortSurvival) -> None:
    """Where the predicted status of each group's patients came from, under the figure."""
    if result.prediction_sources is None:
        return
    text = "; ".join(
        f"{row.group}: {row.prediction_source}"
        for row in result.comparison.summary.itertuples(index=False)
    )
    if result.in_sample:
        st.warning(
            "In-sample: patients the model was trained on are grouped by the final model's "
            f"predictions of them, which overstates the separation. {text}",
            icon=":material/warning:",
        )
    else:
        st.caption(f"Source of the predicted status — {text}")


def _show_source_table(result: CohortSurvival) -> None:
    if result.prediction_sources is None:
        return
    st.subheader("Source of the predicted status")
    sources = result.prediction_sources
    show_table(sources)
    st.download_button(
        "Download prediction sources (CSV)",
        audited_csv("survival prediction sources", sources),
        file_name="survival_prediction_sources.csv",
        key="survival_dl_sources",
        on_click="ignore",
    )


def _show_tables(result: CohortSurvival, label: str) -> None:
    comparison = result.comparison
    for note in (*result.notes, *comparison.notes):
        st.caption(f"Note: {note}")
    tabs = st.tabs(["Summary", "Number at risk", "Tests", "Hazard ratios"])
    with tabs[0]:
        show_table(comparison.summary)
        st.download_button(
            "Download summary (CSV)",
            audited_csv(f"survival summary ({label})", comparison.summary),
            file_name=f"survival_summary_{label}.csv",
            key=f"survival_dl_summary_{label}",
            on_click="ignore",
        )
    with tabs[1]:
        show_table(comparison.at_risk)
        st.download_button(
            "Download number at risk (CSV)",
            audited_csv(f"number at risk ({label})", comparison.at_risk),
            file_name=f"survival_at_risk_{label}.csv",
            key=f"survival_dl_risk_{label}",
            on_click="ignore",
        )
    with tabs[2]:
        if comparison.logrank is not None:
            lr = comparison.logrank
            st.write(
                f"{lr.test}: χ² = {lr.statistic:.2f}, df = {lr.df}, {format_p_value(lr.p_value)}"
            )
        if comparison.trend is not None:
            tr = comparison.trend
            st.write(
                f"{tr.test} ({' < '.join(tr.groups)}): χ² = {tr.statistic:.2f}, df = 1, "
                f"{format_p_value(tr.p_value)}"
            )
        show_table(comparison.pairwise)
    with tabs[3]:
        if comparison.cox is None:
            st.caption("No hazard ratios (see the notes).")
        else:
            show_figure(
                forest_figure(comparison.cox.table),
                f"survival_forest_{label}",
                f"survival_forest_{label}",
            )
            show_table(comparison.cox.table)
            st.caption("Proportional-hazards check (Schoenfeld residuals)")
            show_table(comparison.cox.ph_test)


PAGE_SIZES = [25, 50, 100, 250, 500]


def _show_patients(found: CohortSurvivalResult, order: tuple[str, ...]) -> None:
    """One page of the patients of one group (offered in the figure's order), each linked
    to the case view."""
    st.subheader("Patients of a group")
    present = set(found.groups.unique())
    offered = [g for g in order if g in present] + sorted(present - set(order))
    group_column, size_column, page_column = st.columns(3)
    group = group_column.selectbox("Group", offered, key="survival_group")
    page_size = size_column.selectbox(
        "Rows per page", PAGE_SIZES, index=PAGE_SIZES.index(100), key="survival_page_size"
    )
    wanted = page_column.number_input("Page", min_value=1, value=1, step=1, key="survival_page")
    if group is None:
        return
    page = group_members(found, group, page=int(wanted), page_size=page_size)
    members = page.rows
    st.caption(
        f"Page {page.page} of {page.pages}: patients {page.first_row}–"
        f"{page.first_row + len(members) - 1} of {page.total} in {group}"
    )
    show_table(
        members.assign(case="/case?patient=" + members["pseudonym"]),
        column_config={"case": st.column_config.LinkColumn("Case view", display_text="open")},
    )


selected = dict(st.session_state.get("selected_cohort") or {})
use_selection = bool(selected) and st.toggle(
    "Only the cohort selected in the Cohort explorer",
    value=True,
    key="survival_use_selection",
    help="; ".join(
        f"{column_label(k)}: {', '.join(str(cell_text(v)) for v in str(value).split(','))}"
        for k, value in selected.items()
    ),
)

try:
    linked = CohortFilter.from_query(selected) if use_selection else CohortFilter()
    selection = replace(linked, centers=frozenset(chosen_centers) or linked.centers)
    request = build_request(
        by=by_text,
        endpoint=endpoint,
        times=times,
        time_unit=unit,
        adjust=tuple(adjust),
        split=split,
        threshold=threshold,
        scheme=scheme,
        min_group_size=int(min_size),
        reference=reference.strip() or None,
        landmark_months=landmark or None,
        in_sample=in_sample,
        test_unknown=test_unknown,
    )
    with session_scope(engine()) as session:
        found = survival_for(
            session, scope(), selection, request, model=model_id, with_true_status=True
        )
    cohort = found.cohort
    st.caption(f"{len(cohort)} patients selected · 95 % CI: {CI_METHOD}")
    time_label = unit.value.capitalize()
    ordered = by is Grouping.RISK or by.is_numeric
    result = found.result
    if found.true_status is not None and found.agreement is not None:
        validation = result.validation
        show_figure(
            km_panels(
                result.comparison,
                found.true_status.comparison,
                (_predicted_title(result, validation), "By true status"),
                time_label=time_label,
                ordered=ordered,
            ),
            "survival_km_panels",
            "survival_km_panels",
        )
        _show_sources(result)
        st.subheader("Agreement of predicted and true status")
        st.dataframe(display_table(found.agreement), width="stretch")
        _show_source_table(result)
        _show_tables(result, "predicted")
    else:
        show_figure(
            km_figure(
                result.comparison,
                title=f"{endpoint.label} by {by.label.lower()}",
                time_label=time_label,
                ordered=ordered,
            ),
            "survival_km",
            "survival_km",
        )
        _show_tables(result, by.value)
    _show_patients(found, result.comparison.groups)
except GistcadError as exc:
    show_error(exc)
