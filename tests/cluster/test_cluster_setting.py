"""GISTCAD_CLUSTER: its values, one-line errors, and the rule that picks cluster or process."""

from __future__ import annotations

from pathlib import Path

import pytest

from gistcad.cluster import MIN_CASES, use_cluster
from gistcad.config import ClusterMode, ClusterSetting, cluster_setting, load_settings
from gistcad.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ClusterSetting(ClusterMode.AUTO)),
        ("auto", ClusterSetting(ClusterMode.AUTO)),
        (" LOCAL ", ClusterSetting(ClusterMode.LOCAL)),
        ("off", ClusterSetting(ClusterMode.OFF)),
        (
            "tcp://scheduler-1.example.org:8786",
            ClusterSetting(ClusterMode.REMOTE, "tcp://scheduler-1.example.org:8786"),
        ),
        ("tcp://10.0.0.5:8786", ClusterSetting(ClusterMode.REMOTE, "tcp://10.0.0.5:8786")),
        ("tls://[::1]:8786", ClusterSetting(ClusterMode.REMOTE, "tls://[::1]:8786")),
    ],
)
def test_cluster_values(raw: str, expected: ClusterSetting) -> None:
    assert cluster_setting({"GISTCAD_CLUSTER": raw}) == expected


def test_settings_carry_the_cluster(tmp_path: Path) -> None:
    env = {"GISTCAD_DATA_DIR": str(tmp_path), "GISTCAD_CLUSTER": "tcp://127.0.0.1:8786"}
    assert load_settings(env).cluster.address == "tcp://127.0.0.1:8786"
    assert load_settings({"GISTCAD_DATA_DIR": str(tmp_path)}).cluster.mode is ClusterMode.AUTO


@pytest.mark.parametrize(
    "raw", ["yes", "scheduler:8786", "tcp://host", "tcp://host:99999", "http://host:8786"]
)
def test_bad_cluster_value_is_one_clear_line(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cluster_setting({"GISTCAD_CLUSTER": raw})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"GISTCAD_CLUSTER={raw!r} is neither auto, local, off nor")
    assert "tcp://scheduler-host:8786" in message


def test_the_rule() -> None:
    auto, off = ClusterSetting(ClusterMode.AUTO), ClusterSetting(ClusterMode.OFF)
    local = ClusterSetting(ClusterMode.LOCAL)
    remote = ClusterSetting(ClusterMode.REMOTE, "tcp://127.0.0.1:8786")
    # unset: many cases on several workers go to a cluster, few cases or one worker stay here
    assert use_cluster(MIN_CASES, auto, workers=2)
    assert not use_cluster(MIN_CASES - 1, auto, workers=2)
    assert not use_cluster(10 * MIN_CASES, auto, workers=1)
    # set: it decides, whatever the size
    assert not use_cluster(10 * MIN_CASES, off, workers=4)
    assert use_cluster(1, local, workers=1)
    assert use_cluster(1, remote)
