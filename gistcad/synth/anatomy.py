"""The abdominal anatomy of one synthetic patient: the organ template and its jitter.

The abdomen is a stack of :mod:`~gistcad.synth.shapes` in LPS patient coordinates (mm; x to
the patient's left, y posterior, z superior) around a body centred on x = y = 0. The
anatomical z axis runs from the pelvic floor (z = 0) to the lung bases (z ≈ 480): pelvis and
rectum low, kidneys in the middle, liver, spleen, stomach fundus and the oesophageal hiatus
at the top. Hollow organs are a wall shape followed by a lumen shape whose content is air
anterior to an air-fluid level (supine patient) and fluid below it. Tissue values come from
:class:`~gistcad.synth.tissues.Tissues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gistcad.synth.shapes import Body, Cylinder, Ellipsoid, FloatArray, Shape
from gistcad.synth.tissues import Tissues


@dataclass(frozen=True)
class Anchor:
    """Where a tumour of one sub-site grows: a point on the host wall and its outward
    unit normal, both LPS mm in anatomical z."""

    point: tuple[float, float, float]
    normal: tuple[float, float, float]


@dataclass(frozen=True)
class Abdomen:
    """One patient's anatomy: painted ``shapes`` (in order), ``body`` and tumour anchors."""

    shapes: tuple[Shape, ...]
    body: Body
    anchors: dict[str, Anchor]


def _unit(v: Sequence[float] | FloatArray) -> tuple[float, float, float]:
    arr = np.asarray(v, dtype=float)
    x, y, z = arr / np.linalg.norm(arr)
    return float(x), float(y), float(z)


def _on_ellipsoid(shape: Ellipsoid, direction: Sequence[float]) -> Anchor:
    """The surface point of ``shape`` in ``direction`` from its centre, with its normal."""
    d = np.asarray(_unit(direction))
    axes = np.asarray(shape.axes)
    t = 1.0 / np.sqrt(np.sum((d / axes) ** 2))
    point = np.asarray(shape.centre) + t * d
    x, y, z = point.tolist()
    return Anchor((x, y, z), _unit(t * d / axes**2))


def _hollow(
    outer: Ellipsoid, wall_mm: float, content_hu: float, air_fraction: float
) -> list[Shape]:
    """Wall then lumen of a hollow viscus; air fills ``air_fraction`` of the AP extent."""
    cy = outer.centre[1]
    a, b, c = outer.axes
    lumen = (max(a - wall_mm, 1.0), max(b - wall_mm, 1.0), max(c - wall_mm, 1.0))
    level = cy - b + 2.0 * b * air_fraction
    return [outer, Ellipsoid(outer.centre, lumen, content_hu, outer.angle, level)]


def _chain(
    points: FloatArray,
    radius: float,
    wall_hu: float,
    wall_mm: float,
    content_hu: float,
    air_fraction: float,
) -> list[Shape]:
    """A bowel segment as overlapping spheres along ``points`` (n, 3): all walls first,
    then all lumens, so walls never cross the lumen."""
    walls = [Ellipsoid(tuple(p), (radius,) * 3, wall_hu) for p in points.tolist()]
    pairs = [_hollow(w, wall_mm, content_hu, air_fraction) for w in walls]
    return walls + [pair[1] for pair in pairs]


def _walk(
    rng: np.random.Generator, start: Sequence[float], box: FloatArray, steps: int, step_mm: float
) -> FloatArray:
    """A random walk of ``steps`` points (mm) kept inside ``box`` ((3, 2) min/max)."""
    points = [np.asarray(start, dtype=float)]
    heading = _unit(rng.normal(size=3))
    for _ in range(steps - 1):
        heading = _unit(np.asarray(heading) + 0.8 * rng.normal(size=3))
        nxt = np.clip(points[-1] + step_mm * np.asarray(heading), box[:, 0], box[:, 1])
        points.append(nxt)
    return np.asarray(points)


def _skeleton(t: Tissues, sx: float, sy: float, body: Body) -> list[Shape]:
    """Spine, sacrum, pelvis, femoral heads and ribs; vertebrae every 36 mm with discs."""
    bone, marrow = t.cortical_bone, t.marrow
    shapes: list[Shape] = [
        Cylinder(0, 140, (95 * sx, 55 * sy), (95 * sx, 50 * sy), (40, 28), (28, 22), t.muscle),
        Cylinder(0, 140, (-95 * sx, 55 * sy), (-95 * sx, 50 * sy), (40, 28), (28, 22), t.muscle),
        Cylinder(0, 500, (30, 76 * sy), (30, 76 * sy), (23, 15), (21, 14), t.muscle),
        Cylinder(0, 500, (-30, 76 * sy), (-30, 76 * sy), (23, 15), (21, 14), t.muscle),
    ]
    for z in np.arange(110.0, 500.0, 36.0):
        shapes.append(Ellipsoid((0.0, 45 * sy, z + 18.0), (23.0, 17.0, 14.0), bone))
        shapes.append(Ellipsoid((0.0, 45 * sy, z + 18.0), (20.0, 14.0, 12.5), marrow))
        shapes.append(Ellipsoid((0.0, 76 * sy, z + 20.0), (17.0, 12.0, 13.0), bone * 0.7))
        shapes.append(Ellipsoid((0.0, 92 * sy, z + 18.0), (4.0, 10.0, 12.0), bone * 0.7))
        shapes.append(Ellipsoid((0.0, 45 * sy, z), (21.0, 16.0, 4.5), t.disc))
        if z < 330:
            for side in (-1, 1):
                shapes.append(Ellipsoid((32.0 * side, 62 * sy, z + 18), (15, 4, 6), bone * 0.7))
    shapes.append(Cylinder(0, 500, (0, 74 * sy), (0, 74 * sy), (8, 7), (8, 7), t.csf))
    shapes.append(Cylinder(30, 110, (0, 85 * sy), (0, 55 * sy), (28, 12), (42, 16), bone))
    shapes.append(Cylinder(30, 110, (0, 85 * sy), (0, 55 * sy), (24, 9), (38, 13), marrow))
    for side in (-1, 1):
        wing = Ellipsoid((side * 100 * sx, 38 * sy, 150), (55, 9, 55), bone, -side * 0.8)
        shapes.append(wing)
        shapes.append(Ellipsoid(wing.centre, (51, 5, 52), marrow, -side * 0.8))
        head = Ellipsoid((side * 85 * sx, 15 * sy, 25), (24, 24, 28), bone)
        shapes += [head, Ellipsoid(head.centre, (21, 21, 25), marrow)]
        shapes.append(Ellipsoid((side * 18, -80 * sy, 12), (14, 9, 14), bone))
        for angle in np.deg2rad([40, 65, 90, 115, 140, 160]):
            a, b_ant, b_post = body.axes_at(400.0)
            r_x = a - body.fat_mm - 4
            r_y = (b_post if np.cos(angle) < 0 else b_ant) - body.fat_mm - 4
            cx, cy = side * r_x * np.sin(angle), -r_y * np.cos(angle)
            for z in np.arange(300.0, 500.0, 26.0) + 10.0 * np.cos(angle):
                rib = Ellipsoid((cx, cy, z), (10, 5, 7), bone, side * (np.pi / 2 - angle))
                shapes.append(rib)
    return shapes


def _solid_organs(t: Tissues, p: _Jitter, female: bool) -> list[Shape]:
    """Lung bases, heart, liver, spleen, kidneys, pancreas, vessels, bladder, pelvic organ."""
    shapes: list[Shape] = [
        p.blob((80, 40, 485), (65, 55, 75), t.lung),
        p.blob((-80, 40, 485), (65, 55, 75), t.lung),
        p.blob((15, -45, 520), (75, 50, 55), t.myocardium),
        p.blob((-60, 5, 370), (72, 75, 90), t.liver),
        p.blob((15, -45, 390), (55, 30, 45), t.liver),
        p.blob((-38, -2, 335), (9, 7, 25), t.vein),
        p.blob((-58, -52, 312), (14, 17, 30), t.fluid),
        p.blob((80, 38, 385), (26, 40, 52), t.spleen),
    ]
    for side, z in ((1, 290.0), (-1, 272.0)):
        shapes.append(p.blob((68 * side, 45, z), (28, 30, 55), t.kidney_cortex, -0.45 * side))
        shapes.append(p.blob((66 * side, 43, z), (18, 20, 42), t.kidney_medulla, -0.45 * side))
        shapes.append(p.blob((52 * side, 38, z), (10, 9, 25), t.fat))
    shapes.append(p.blob((5, 5, 292), (68, 14, 18), t.pancreas, 0.35))
    aorta = p.tube(165, 520, (12, 18), (18, 30), (11, 11), (12, 12), t.aorta)
    shapes += [aorta, p.tube(170, 450, (-24, 18), (-24, 22), (12, 9), (14, 11), t.vein)]
    for side in (-1, 1):
        shapes.append(p.tube(90, 170, (62 * side, 20), (12, 18), (6, 6), (6, 6), t.aorta))
        shapes.append(p.tube(30, 90, (75 * side, -10), (62 * side, 20), (5, 5), (6, 6), t.aorta))
        shapes.append(p.tube(90, 170, (55 * side, 30), (-10, 24), (7, 6), (8, 7), t.vein))
        shapes.append(
            p.tube(110, 340, (55 * side, 35), (28 * side, 38), (24, 21), (8, 8), t.muscle)
        )
        shapes.append(
            p.tube(30, 110, (78 * side, 5), (55 * side, 35), (22, 18), (24, 21), t.muscle)
        )
    shapes += _hollow(p.blob((0, -40, 60), (45, 35, 38), t.bowel_wall), 3.0, t.fluid, 0.0)
    if female:
        shapes.append(p.blob((0, 5, 95), (30, 24, 38), t.enhanced(40, 60)))
    else:
        shapes.append(p.blob((0, -10, 15), (18, 15, 16), t.enhanced(40, 35)))
    return shapes


class _Jitter:
    """Shapes from the template: positions scaled to the body and jittered (mm)."""

    def __init__(self, rng: np.random.Generator, sx: float, sy: float, sd_mm: float) -> None:
        self.rng, self.sx, self.sy, self.sd = rng, sx, sy, sd_mm

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return (
            x * self.sx + self.rng.normal(0, self.sd),
            y * self.sy + self.rng.normal(0, self.sd),
        )

    def blob(
        self,
        c: Sequence[float],
        axes: Sequence[float],
        hu: float,
        angle: float = 0.0,
        air: float | None = None,
    ) -> Ellipsoid:
        size = float(np.clip(self.rng.normal(1.0, 0.06), 0.85, 1.15))
        ax, ay, az = (v * size for v in axes)
        z = c[2] + self.rng.normal(0, self.sd)
        return Ellipsoid((*self.xy(c[0], c[1]), z), (ax, ay, az), hu, angle, air)

    def tube(
        self,
        z0: float,
        z1: float,
        c0: Sequence[float],
        c1: Sequence[float],
        axes0: tuple[float, float],
        axes1: tuple[float, float],
        hu: float,
    ) -> Cylinder:
        dx, dy = self.rng.normal(0, self.sd, size=2)
        return Cylinder(
            z0,
            z1,
            (c0[0] * self.sx + dx, c0[1] * self.sy + dy),
            (c1[0] * self.sx + dx, c1[1] * self.sy + dy),
            axes0,
            axes1,
            hu,
        )


def _gut(t: Tissues, p: _Jitter, rng: np.random.Generator) -> tuple[list[Shape], dict[str, Anchor]]:
    """Oesophagus, stomach, duodenum, small-bowel loops, colon and rectum, with anchors."""
    wall, fluid = t.bowel_wall, t.fluid
    gas = rng.uniform(0.15, 0.6)
    fundus = p.blob((55, 22, 402), (40, 38, 40), wall)
    body = p.blob((60, -25, 352), (42, 34, 48), wall)
    antrum = p.blob((8, -55, 305), (45, 21, 24), wall)
    shapes: list[Shape] = [p.tube(395, 520, (38, 14), (14, 22), (9, 7), (8, 7), wall)]
    for organ, air in ((fundus, 0.1), (body, gas), (antrum, gas + 0.2)):
        shapes += _hollow(organ, 5.0, fluid, min(air, 0.9))
    duodenum = p.tube(238, 292, (-58, 5), (-55, -5), (13, 12), (13, 12), wall)
    shapes += [
        duodenum,
        Cylinder(
            duodenum.z0, duodenum.z1, duodenum.centre0, duodenum.centre1, (10, 9), (10, 9), fluid
        ),
    ]
    d3 = np.column_stack([np.linspace(-58, 15, 6) * p.sx, np.full(6, 15 * p.sy), np.full(6, 238)])
    shapes += _chain(d3, 11.0, wall, 3.0, fluid, 0.0)
    loops: dict[str, Anchor] = {}
    for name, box in (
        ("jejunum", [[0, 100], [-80, 15], [185, 265]]),
        ("ileum", [[-100, 30], [-80, 15], [95, 190]]),
    ):
        scaled = np.asarray(box, float) * np.array([[p.sx], [p.sy], [1.0]])
        for i in range(9):
            start = [rng.uniform(*scaled[0]), rng.uniform(*scaled[1]), rng.uniform(*scaled[2])]
            pts = _walk(rng, start, scaled, steps=10, step_mm=11.0)
            shapes += _chain(pts, rng.uniform(10, 15), wall, 2.5, fluid, rng.uniform(0, 0.4))
            if i == 0:
                loops[name] = Anchor(tuple(pts[4].tolist()), _unit(rng.normal(size=3)))
    colon = [
        p.tube(140, 262, (-100, 0), (-95, -10), (24, 22), (21, 20), wall),
        p.tube(120, 300, (95, 15), (88, -5), (16, 15), (18, 17), wall),
        p.tube(10, 80, (0, 58), (0, 52), (16, 15), (18, 17), wall),
    ]
    for tube in colon:
        (a0, b0), (a1, b1) = tube.axes0, tube.axes1
        level = 0.5 * (tube.centre0[1] + tube.centre1[1]) - 5.0
        lumen = Cylinder(
            tube.z0,
            tube.z1,
            tube.centre0,
            tube.centre1,
            (a0 - 3.0, b0 - 3.0),
            (a1 - 3.0, b1 - 3.0),
            fluid,
            0.0,
            level,
        )
        shapes += [tube, lumen]
    u = np.linspace(0, 1, 9)
    transverse = np.column_stack(
        [
            (-92 + 180 * u) * p.sx,
            (-25 - 50 * np.sin(np.pi * u)) * p.sy,
            262 - 20 * np.sin(np.pi * u) + 30 * u,
        ]
    )
    sigmoid = np.column_stack(
        [(88 - 80 * u) * p.sx, (10 - 45 * np.sin(np.pi * u)) * p.sy, 120 - 45 * u]
    )
    shapes += _chain(transverse, 20.0, wall, 3.0, -20.0, 0.6)
    shapes += _chain(sigmoid, 15.0, wall, 3.0, -20.0, 0.4)
    anchors = {
        "fundus": _on_ellipsoid(fundus, (0.5, 0.6, 0.6)),
        "body": _on_ellipsoid(body, (1.0, -0.6, 0.0)),
        "antrum": _on_ellipsoid(antrum, (0.0, -1.0, -0.4)),
        "duodenum": Anchor((duodenum.centre0[0] - 13, duodenum.centre0[1], 265.0), (-1, 0, 0)),
        "colon": Anchor((colon[1].centre0[0] + 16, colon[1].centre0[1], 200.0), (1, -0.3, 0)),
        "rectum": Anchor((colon[2].centre0[0], colon[2].centre0[1] - 16, 40.0), (0, -1, 0)),
        "oesophagus": Anchor((shapes[0].centre0[0] + 9, 14, 440.0), (1, -0.4, 0)),  # type: ignore[union-attr]
        "mesentery": Anchor((rng.uniform(-30, 30), -10.0, 200.0), (0, -1, 0)),
        "omentum": Anchor((rng.uniform(-60, 60), -70 * p.sy, 240.0), (0, -1, 0)),
        **loops,
    }
    return shapes, anchors


def build_abdomen(rng: np.random.Generator, tissues: Tissues, *, female: bool) -> Abdomen:
    """Draw one patient's anatomy: body habitus, organ jitter (SD 5 mm), bowel loops.

    The template is a reference adult (half-width 160 mm, AP 220 mm); positions scale with
    the patient's body, organ sizes vary by ±6 % (SD) and positions by 5 mm (SD) [D].
    """
    sx = float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.2))
    sy = float(np.clip(rng.normal(1.0, 0.08), 0.85, 1.25))
    fat = float(rng.uniform(10.0, 32.0))
    knots = (0.0, 100.0, 200.0, 300.0, 400.0, 520.0)
    body = Body(
        knots,
        tuple(v * sx + fat for v in (150, 152, 145, 142, 140, 142)),
        tuple(v * sy + fat for v in (95, 98, 100, 100, 98, 100)),
        tuple(v * sy + 0.5 * fat for v in (112, 112, 112, 112, 112, 115)),
        fat,
        float(rng.uniform(9.0, 14.0)),
    )
    jitter = _Jitter(rng, sx, sy, 5.0)
    gut, anchors = _gut(tissues, jitter, rng)
    shapes = _solid_organs(tissues, jitter, female) + gut + _skeleton(tissues, sx, sy, body)
    return Abdomen(tuple(shapes), body, anchors)
