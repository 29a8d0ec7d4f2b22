"""HU of the tissues of the synthetic CT phantom for one scanner and contrast timing.

Tissue values (HU) are the unenhanced value plus iodine enhancement × the center's
``hu_scale``; portal-venous values follow ``gist_facts.md`` §8 (liver 100–120, fat ≈ −100,
muscle ≈ 50, aorta 150–200, cortical bone ≥ 700, marrow ≈ 200) [M]/[D].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tissues:
    """HU of each tissue for one scanner and contrast timing.

    Enhancement (HU above the unenhanced value at 120 kVp, portal-venous phase at 70 s) is
    multiplied by ``hu_scale``; an earlier scan (``delay_s`` < 70) makes the aorta brighter
    and the liver less enhanced, a later one the reverse (≈ 3 and 1.2 HU per second) [D].
    """

    hu_scale: float = 1.0
    delay_s: float = 70.0

    def enhanced(self, unenhanced: float, enhancement: float) -> float:
        return unenhanced + enhancement * self.hu_scale

    @property
    def aorta(self) -> float:
        return self.enhanced(40.0, 135.0 + 3.0 * (70.0 - self.delay_s))

    @property
    def vein(self) -> float:
        return self.enhanced(40.0, 115.0)

    @property
    def liver(self) -> float:
        return self.enhanced(55.0, 55.0 - 1.2 * (70.0 - self.delay_s))

    @property
    def spleen(self) -> float:
        return self.enhanced(45.0, 65.0 - 0.8 * (70.0 - self.delay_s))

    @property
    def kidney_cortex(self) -> float:
        return self.enhanced(30.0, 150.0 + 1.5 * (70.0 - self.delay_s))

    @property
    def kidney_medulla(self) -> float:
        return self.enhanced(30.0, 120.0)

    @property
    def pancreas(self) -> float:
        return self.enhanced(40.0, 60.0)

    @property
    def bowel_wall(self) -> float:
        return self.enhanced(40.0, 55.0)

    @property
    def muscle(self) -> float:
        return self.enhanced(45.0, 10.0)

    @property
    def myocardium(self) -> float:
        return self.enhanced(40.0, 90.0)

    fat: float = -100.0
    fluid: float = 10.0
    air: float = -1000.0
    lung: float = -850.0
    cortical_bone: float = 750.0
    marrow: float = 210.0
    disc: float = 90.0
    csf: float = 15.0
