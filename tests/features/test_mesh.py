"""The generated marching-cubes table and meshes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from gistcad.features.mesh import case_table, mask_mesh


def _edge_uses(triangles: np.ndarray) -> Counter:
    keys = np.round(triangles * 2).astype(int)
    edges: Counter = Counter()
    for a, b, c in keys:
        for p, q in ((a, b), (b, c), (c, a)):
            edges[(tuple(p), tuple(q))] += 1
    return edges


def test_table_has_triangles_for_every_mixed_case() -> None:
    _, _, count = case_table()
    assert count[0] == 0 and count[255] == 0
    assert count.max() <= 5 and count.min() == 0
    assert np.all(count[1:255] > 0)


def test_single_voxel_is_an_octahedron() -> None:
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 1] = True
    mesh = mask_mesh(mask, (1.0, 2.0, 3.0))
    assert mesh.volume_mm3 == pytest.approx(6.0 / 6.0)  # (1/6) × 1 × 2 × 3
    assert len(mesh.triangles) == 8 and len(mesh.vertices) == 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_masks_give_closed_consistently_oriented_meshes(seed: int) -> None:
    mask = np.random.default_rng(seed).random((6, 5, 4)) < 0.5
    mesh = mask_mesh(mask, (1.0, 1.0, 1.0))
    edges = _edge_uses(mesh.triangles)
    # every directed edge is used once and its reverse once: closed and oriented
    assert all(count == 1 and edges[(q, p)] == 1 for (p, q), count in edges.items())
    assert mesh.volume_mm3 > 0


def test_mesh_volume_is_invariant_to_flips_and_transposes() -> None:
    mask = np.random.default_rng(7).random((5, 6, 4)) < 0.6
    reference = mask_mesh(mask, (1.0, 1.0, 1.0))
    for variant in (mask[::-1], mask[:, ::-1, ::-1], mask.transpose(2, 0, 1)):
        mesh = mask_mesh(variant, (1.0, 1.0, 1.0))
        assert mesh.volume_mm3 == pytest.approx(reference.volume_mm3)
        assert mesh.area_mm2 == pytest.approx(reference.area_mm2)


def test_ball_volume_and_area_approach_the_sphere() -> None:
    i, j, k = np.mgrid[:41, :41, :41] - 20.0
    mask = i**2 + j**2 + k**2 <= 18.0**2
    mesh = mask_mesh(mask, (1.0, 1.0, 1.0))
    assert mesh.volume_mm3 == pytest.approx(4 / 3 * np.pi * 18.0**3, rel=0.02)
    assert mesh.area_mm2 == pytest.approx(4 * np.pi * 18.0**2, rel=0.1)
