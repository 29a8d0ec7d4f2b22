"""The AFIP 2006 table of Miettinen & Lasota: risk of progressive disease by site column.

The table has eight prognostic groups (rows: size band, then more than 5 mitoses per
50 HPF) and four site columns. Two published versions label the two small-bowel columns the
other way round (:class:`AfipColumnLabelling`). :mod:`gistcad.analysis.risk` assigns a
tumour to its group and column and builds the assessment; this module holds the table and
its lookup.

References
----------
.. [1] Miettinen M, Lasota J. Gastrointestinal stromal tumors: pathology and prognosis at
   different sites. Semin Diagn Pathol 2006;23(2):70-83. Reproduced in NCCN, NCI PDQ
   (Tables 1-2) and Hindawi ISRN 2012 Table 2.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from gistcad.domain import RiskClass

if TYPE_CHECKING:
    from gistcad.analysis.risk import RiskOptions


class AfipColumn(StrEnum):
    """The four site columns of the AFIP table [1]_."""

    GASTRIC = "gastric"
    JEJUNUM_ILEUM = "jejunum_ileum"
    DUODENUM = "duodenum"
    RECTUM = "rectum"


class AfipColumnLabelling(StrEnum):
    """Which of the two small-bowel series is labelled duodenum.

    ``MIETTINEN_LASOTA_2006``: the 4.3/24/52/50/73/85/90 % series is jejunum/ileum and the
    8.3/-/34/-/50/-/86 % series is duodenum, as in the original paper [1]_.
    ``NCCN_PDQ``: the two labels swapped, as printed by NCCN, the older NCI PDQ and Hindawi.
    """

    MIETTINEN_LASOTA_2006 = "miettinen_lasota_2006"
    NCCN_PDQ = "nccn_pdq"


_N, _VL, _L = RiskClass.NONE, RiskClass.VERY_LOW, RiskClass.LOW
_M, _H = RiskClass.MODERATE, RiskClass.HIGH
_ID = (RiskClass.INSUFFICIENT_DATA, None)

#: One cell: the category and the % risk of progressive disease (None: not published).
AfipCell = tuple[RiskClass, float | None]

#: Column order of :data:`AFIP_TABLE`, the original one of Miettinen & Lasota 2006 [1]_.
AFIP_COLUMNS = tuple(AfipColumn)

#: Miettinen & Lasota 2006 [1]_: (category, % progressive disease) per group and column,
#: groups in row order. Gastric 3b is filled in from ``RiskOptions.afip_gastric_3b_percent``;
#: rectal 6b is printed "High (7)" in the older PDQ, a typo for 71 %.
AFIP_TABLE: dict[str, tuple[AfipCell, AfipCell, AfipCell, AfipCell]] = {
    "1": ((_N, 0.0), (_N, 0.0), (_N, 0.0), (_N, 0.0)),
    "2": ((_VL, 1.9), (_L, 4.3), (_L, 8.3), (_L, 8.5)),
    "3a": ((_L, 3.6), (_M, 24.0), _ID, _ID),
    "3b": ((_M, None), (_H, 52.0), (_H, 34.0), (_H, 57.0)),
    "4": ((_N, 0.0), (_H, 50.0), _ID, (_H, 54.0)),
    "5": ((_M, 16.0), (_H, 73.0), (_H, 50.0), (_H, 52.0)),
    "6a": ((_H, 55.0), (_H, 85.0), _ID, _ID),
    "6b": ((_H, 86.0), (_H, 90.0), (_H, 86.0), (_H, 71.0)),
}

_NCCN_SWAP = {
    AfipColumn.DUODENUM: AfipColumn.JEJUNUM_ILEUM,
    AfipColumn.JEJUNUM_ILEUM: AfipColumn.DUODENUM,
}


def afip_cell(group: str, column: AfipColumn, options: RiskOptions) -> AfipCell:
    """Category and % risk of one AFIP cell, as labelled under ``options``."""
    source = column
    if options.afip_column_labelling is AfipColumnLabelling.NCCN_PDQ:
        source = _NCCN_SWAP.get(column, column)
    risk_class, percent = AFIP_TABLE[group][AFIP_COLUMNS.index(source)]
    if group == "3b" and source is AfipColumn.GASTRIC:
        percent = options.afip_gastric_3b_percent
    return risk_class, percent
