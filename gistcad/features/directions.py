"""The 13 directions of a 3-D neighbourhood and neighbour look-ups on a flat padded array.

In 3-D each voxel has 26 neighbours at Chebyshev distance 1; the 26 offsets form 13 pairs
``±o``. Texture matrices are counted once per direction (IBSI reference manual,
arXiv:1612.07003, sections 3.6 and 3.7: "13 directions in 3D").

Neighbours are found without loops over voxels: the grey-level array is padded with one layer
of zeros and flattened, so the neighbour at offset ``o`` of flat index ``v`` is ``v + s`` with
the stride ``s = o · strides``; the zero layer ends every line at the ROI box border.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

#: One offset of each of the 13 direction pairs, first non-zero component positive.
DIRECTIONS_3D: tuple[tuple[int, int, int], ...] = tuple(
    (a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) > (0, 0, 0)
)


@dataclass(frozen=True)
class PaddedLevels:
    """Grey levels padded with one zero layer and flattened (C order).

    Attributes
    ----------
    flat
        The padded levels, raveled; 0 means "not in the ROI".
    shape
        Shape of the padded array.
    """

    flat: IntArray
    shape: tuple[int, int, int]

    @classmethod
    def from_levels(cls, levels: IntArray) -> PaddedLevels:
        """Pad a (I, J, K) level array (0 outside the ROI) and flatten it."""
        padded = np.pad(np.asarray(levels, dtype=np.int64), 1)
        i, j, k = padded.shape
        return cls(padded.ravel(), (int(i), int(j), int(k)))

    def stride(self, offset: tuple[int, int, int]) -> int:
        """Flat-index distance to the neighbour at ``offset`` (positive for DIRECTIONS_3D)."""
        _, j, k = self.shape
        return offset[0] * j * k + offset[1] * k + offset[2]

    def pairs(self, offset: tuple[int, int, int]) -> tuple[IntArray, IntArray]:
        """Levels ``(a, b)`` of every voxel pair ``(v, v + offset)`` with both in the ROI."""
        s = self.stride(offset)
        a, b = self.flat[:-s], self.flat[s:]
        both = (a > 0) & (b > 0)
        return a[both], b[both]

    def lines(self, offset: tuple[int, int, int]) -> IntArray:
        """All lines along ``offset`` laid end to end, separated by zeros.

        Voxels ``v, v+s, v+2s, …`` share the residue ``v mod s``; reshaping to (-1, s) and
        reading column by column walks each line in order. A line leaving the box steps into
        the zero padding, so two lines never touch.
        """
        s = self.stride(offset)
        flat = self.flat
        extra = (-flat.size) % s
        if extra:
            flat = np.concatenate([flat, np.zeros(extra, dtype=flat.dtype)])
        return flat.reshape(-1, s).T.ravel()
