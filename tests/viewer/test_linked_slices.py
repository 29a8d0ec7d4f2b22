"""One position in mm picks the matching slice of scans with different spacing or length."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.viewer.slices import Plane, ViewVolume, extent_mm, index_at, position_mm


def _view(slices: int, spacing: float) -> ViewVolume:
    return ViewVolume(np.zeros((4, 4, slices), np.int16), (1.0, 1.0, spacing))


def test_one_position_links_scans_of_different_slice_spacing() -> None:
    thin, thick = _view(21, 1.5), _view(7, 5.0)
    assert extent_mm(thin, Plane.AXIAL) == pytest.approx(30.0)
    assert position_mm(thick, Plane.AXIAL, 3) == pytest.approx(15.0)
    assert index_at(thin, Plane.AXIAL, 15.0) == 10
    assert index_at(thick, Plane.AXIAL, 15.0) == 3
    assert index_at(thick, Plane.AXIAL, 16.0) == 3  # nearest slice


def test_a_position_beyond_a_shorter_scan_stays_on_its_last_slice() -> None:
    short = _view(5, 2.0)
    assert index_at(short, Plane.AXIAL, 50.0) == 4
    assert index_at(short, Plane.AXIAL, -3.0) == 0
    assert index_at(short, Plane.SAGITTAL, 2.0) == 2  # 1 mm in-plane spacing
