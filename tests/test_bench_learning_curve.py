"""The learning-curve bench's aggregation and target verdicts on hand-made rows (no cohort is
built or trained)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.bench_scripts import load_bench

REFERENCES = {"observable": 0.70, "latent": 0.80, "latent_with_age_sex": 0.82}


def _bench() -> ModuleType:
    return load_bench("learning_curve")


def _row(bench: ModuleType, size: int, seed: int, model: str, auc: float, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "ci_lower": auc - 0.1,
        "ci_upper": auc + 0.1,
        "center_mean_auc": auc,
        "n": size,
        "n_positive": size // 2,
        "seconds": 1.0,
        "references": dict(REFERENCES),
        **extra,
    }
    return bench.Row(size=size, seed=seed, model=model, auc=auc, **values)


def _passing(bench: ModuleType) -> list[Any]:
    """Rows on which every target holds: at 400 radiomics beats six and clinical (p 0.01 in
    every seed), at 1,400 deep beats radiomics and reaches 0.9 x observable."""
    rows = []
    for seed in (1, 2, 3):
        rows += [
            _row(bench, 400, seed, "clinical", 0.55),
            _row(bench, 400, seed, "six", 0.60, delong_p={"clinical": 0.2}),
            _row(bench, 400, seed, "radiomics", 0.64, delong_p={"clinical": 0.01, "six": 0.3}),
            _row(bench, 1400, seed, "radiomics", 0.62 + 0.01 * seed),
            _row(bench, 1400, seed, "deep", 0.62 + 0.02 * seed),
        ]
    return rows


def _by_target(verdicts: list[Any]) -> dict[str, Any]:
    return {v.target.split(" at ")[0].split(" with ")[0]: v for v in verdicts}


def test_the_summary_is_the_mean_over_seeds_with_range_cis_and_ratio() -> None:
    bench = _bench()
    rows = [
        _row(bench, 200, 2, "deep", 0.60, references={**REFERENCES, "observable": 0.80}),
        _row(bench, 200, 1, "deep", 0.70),
        _row(bench, 200, 3, "deep", 0.71),
        _row(bench, 200, 1, "clinical", 0.5),
    ]
    deep = bench.summarise(rows)[200, "deep"]
    assert deep.seeds == (1, 2, 3)  # sorted by seed
    assert deep.mean_auc == pytest.approx((0.60 + 0.70 + 0.71) / 3)
    assert (deep.lowest, deep.highest) == (0.60, 0.71)
    assert deep.cis[1] == pytest.approx((0.5, 0.7))  # seed 2's
    assert deep.references["observable"] == pytest.approx((0.70 + 0.80 + 0.70) / 3)
    assert deep.ratio_to_observable == pytest.approx(0.67 / 0.7333333)
    assert bench.summarise(rows)[200, "clinical"].mean_auc == 0.5


def test_every_target_passes_on_rows_that_meet_it() -> None:
    bench = _bench()
    verdicts = bench.verdicts(_passing(bench))
    assert [v.status for v in verdicts] == ["PASS"] * 5
    best = _by_target(verdicts)["best image model >= 0.9 x observable"]
    assert "deep 0.660 vs 0.9 x 0.700 = 0.630" in best.detail


def test_a_margin_without_significance_fails_the_delong_target() -> None:
    bench = _bench()
    rows = _passing(bench)
    rows[2] = _row(bench, 400, 1, "radiomics", 0.64, delong_p={"clinical": 0.2, "six": 0.3})
    verdict = _by_target(bench.verdicts(rows))["radiomics > clinical"]
    assert verdict.status == "FAIL"
    assert "significant in 2/3 seeds" in verdict.detail
    assert "seed 1 p = 0.2" in verdict.detail


def test_a_significant_loss_is_not_a_win() -> None:
    bench = _bench()
    rows = [
        r
        if not (r.size == 400 and r.model == "clinical")
        else _row(bench, 400, r.seed, r.model, 0.7)
        for r in _passing(bench)
    ]
    verdicts = _by_target(bench.verdicts(rows))
    assert verdicts["radiomics > clinical"].status == "FAIL"
    assert "0/3" in verdicts["radiomics > clinical"].detail


def test_losing_models_fail_their_targets() -> None:
    bench = _bench()
    rows = []
    for r in _passing(bench):
        if r.model == "six":
            r = _row(bench, r.size, r.seed, "six", 0.70)
        if r.model == "deep":
            r = _row(bench, r.size, r.seed, "deep", 0.60)
        if r.size == 1400 and r.model == "radiomics":
            r = _row(bench, r.size, r.seed, "radiomics", 0.61)
        rows.append(r)
    verdicts = _by_target(bench.verdicts(rows))
    assert verdicts["radiomics >= six-measurement baseline"].status == "FAIL"
    assert verdicts["deep >= radiomics"].status == "FAIL"
    # the best image model is radiomics (0.61 > 0.60): below 0.9 x 0.70 = 0.63
    best = verdicts["best image model >= 0.9 x observable"]
    assert best.status == "FAIL"
    assert best.detail.startswith("radiomics 0.610")


def test_a_model_above_latent_with_age_sex_fails_and_is_named() -> None:
    bench = _bench()
    rows = [*_passing(bench), _row(bench, 200, 7, "deep", 0.83)]
    verdict = _by_target(bench.verdicts(rows))["no model above latent_with_age_sex"]
    assert verdict.status == "FAIL"
    assert verdict.detail == "deep n=200 seed 7 0.830 > 0.820"


def test_sizes_and_models_not_run_are_said_so_not_passed() -> None:
    bench = _bench()
    rows = [_row(bench, 200, 1, m, 0.6) for m in ("clinical", "six", "radiomics")]
    verdicts = bench.verdicts(rows)
    statuses = [v.status for v in verdicts]
    assert statuses == ["NOT RUN", "NOT RUN", "NOT RUN", "NOT RUN", "PASS"]
    assert "no radiomics, six at 400 patients" in verdicts[0].detail
    # at 1,400 only radiomics: deep is missing, but radiomics alone is judged on observable
    only_radiomics = [_row(bench, 1400, 1, "radiomics", 0.64)]
    by_target = _by_target(bench.verdicts(only_radiomics))
    assert by_target["deep >= radiomics"].status == "NOT RUN"
    assert by_target["deep >= radiomics"].detail == "no deep at 1,400 patients in this run"
    assert by_target["best image model >= 0.9 x observable"].status == "PASS"
    assert bench.verdicts([])[-1].status == "NOT RUN"


def test_the_tables_print_each_size_with_the_references() -> None:
    bench = _bench()
    lines = bench.table_lines(_passing(bench))
    assert "| radiomics | 0.640 | 0.640–0.640 | 0.54–0.74, 0.54–0.74, 0.54–0.74 | 0.91 |" in lines
    assert "| observable | 0.700 | | | |" in lines
    assert sum(line.startswith("400 patients") for line in lines) == 1
    assert sum(line.startswith("1,400 patients") for line in lines) == 1


def test_the_six_measurements_take_the_texture_sd_from_the_iqr() -> None:
    bench = _bench()
    features = pd.DataFrame(
        {column: [1.0, 2.0] for column in bench.SIX_COLUMNS} | {"other": [5.0, 6.0]}
    )
    features["solid_stat_iqr"] = [13.49, 26.98]
    six = bench.six_of(features)
    assert list(six.columns) == [
        "solid_p10",
        "solid_p50",
        "solid_p90",
        "solid_necrosis_share",
        "solid_texture_sd",
        "morph_vol_dens_conv_hull",
    ]
    np.testing.assert_allclose(six["solid_texture_sd"], [10.0, 20.0])
    with pytest.raises(ValueError, match="solid_part=True"):
        bench.six_of(features.drop(columns=["solid_p50"]))


def test_rows_written_by_json_are_read_back_for_a_report(tmp_path: Path) -> None:
    bench = _bench()
    rows = _passing(bench)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([dataclasses.asdict(r) for r in rows[:5]]))
    (tmp_path / "more.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows[5:]]))
    assert bench.read_rows([path, tmp_path / "more.json"]) == rows


def test_rows_written_before_the_search_was_the_default_get_todays_names(
    tmp_path: Path,
) -> None:
    """Files written when ``radiomics`` was the tuned logistic regression and ``search`` the
    search (no ``naming`` key), and files of naming 2, where ``radiomics`` was that search,
    are read with the names of today: ``logistic`` and ``radiomics-best3``, in the DeLong
    tests too."""
    bench = _bench()
    old = [
        {**dataclasses.asdict(_row(bench, 400, 1, "radiomics", 0.58)), "delong_p": {"six": 0.2}},
        {
            **dataclasses.asdict(_row(bench, 400, 1, "search", 0.62)),
            "delong_p": {"six": 0.9, "radiomics": 0.03},
        },
        dataclasses.asdict(_row(bench, 400, 1, "six", 0.61)),
    ]
    for raw in old:
        del raw["naming"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    second = {
        **dataclasses.asdict(_row(bench, 400, 2, "radiomics", 0.63)),
        "delong_p": {"logistic": 0.04},
        "naming": 2,
    }
    (tmp_path / "second.json").write_text(json.dumps([second]))
    new = [_row(bench, 400, 3, "logistic", 0.50), _row(bench, 400, 3, "radiomics", 0.66)]
    (tmp_path / "new.json").write_text(json.dumps([dataclasses.asdict(r) for r in new]))
    files = [tmp_path / "old.json", tmp_path / "second.json", tmp_path / "new.json"]
    rows = bench.read_rows(files)
    named = {(r.seed, r.model): r for r in rows}
    assert set(named) == {
        (1, "logistic"),
        (1, "radiomics-best3"),
        (1, "six"),
        (2, "radiomics-best3"),
        (3, "logistic"),
        (3, "radiomics"),
    }
    assert named[1, "logistic"].auc == 0.58 and named[1, "radiomics-best3"].auc == 0.62
    assert named[1, "radiomics-best3"].delong_p == {"six": 0.9, "logistic": 0.03}
    assert named[2, "radiomics-best3"].auc == 0.63
    assert named[2, "radiomics-best3"].delong_p == {"logistic": 0.04}
    assert named[3, "radiomics"] == new[1]
    summaries = bench.summarise(rows)
    assert summaries[400, "radiomics-best3"].mean_auc == pytest.approx(0.625)
    assert summaries[400, "radiomics"].mean_auc == pytest.approx(0.66)


def test_the_earlier_logistic_model_counts_among_the_image_models() -> None:
    bench = _bench()
    rows = _passing(bench)
    better = [_row(bench, 1400, seed, "logistic", 0.70) for seed in (1, 2, 3)]
    best = _by_target(bench.verdicts(rows + better))["best image model >= 0.9 x observable"]
    assert best.detail.startswith("logistic 0.700")
    # the radiomics target judges the model gistcad train trains, whatever logistic reaches
    radiomics = _by_target(bench.verdicts(rows + better))["radiomics >= six-measurement baseline"]
    assert radiomics.status == "PASS" and radiomics.detail.startswith("mean AUC 0.640")


def test_the_deep_model_without_harmonisation_is_a_comparison_not_an_image_model() -> None:
    bench = _bench()
    rows = _passing(bench)
    variant = [_row(bench, 1400, seed, "deep-unharmonised", 0.75) for seed in (1, 2, 3)]
    targets = _by_target(bench.verdicts(rows + variant))
    # the best image model is the deep model gistcad train trains, not the variant
    assert targets["best image model >= 0.9 x observable"].detail.startswith("deep 0.660")
    assert targets["deep >= radiomics"].status == "PASS"
    lines = bench.table_lines(rows + variant)
    deep = next(i for i, line in enumerate(lines) if line.startswith("| deep |"))
    assert lines[deep + 1].startswith("| deep-unharmonised | 0.750 |")
