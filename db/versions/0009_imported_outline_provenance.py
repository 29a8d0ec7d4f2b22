"""Imported outlines keep who made them: the segmentation sources "imported_semi_automatic"
and "imported_automatic" (a DICOM SEG's SegmentAlgorithmType, an RTSTRUCT's
ROIGenerationAlgorithm).

Revision ID: 0009_imported_outline_provenance
Revises: 0008_non_cr_non_pd
Create Date: 2026-12-07 23:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_imported_outline_provenance"
down_revision: str | None = "0008_non_cr_non_pd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "source IN ('manual', 'model', 'semi_automatic')"
AFTER = (
    "source IN ('manual', 'model', 'semi_automatic', 'imported_semi_automatic', "
    "'imported_automatic')"
)


def upgrade() -> None:
    with op.batch_alter_table("segmentations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_segmentations_seg_source"), type_="check")
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=22),
            type_=sa.String(length=31),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(op.f("ck_segmentations_seg_source"), AFTER)


def downgrade() -> None:
    # what the older schema knew of them: every imported outline was stored as manual
    op.execute(
        "UPDATE segmentations SET source = 'manual' "
        "WHERE source IN ('imported_semi_automatic', 'imported_automatic')"
    )
    with op.batch_alter_table("segmentations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_segmentations_seg_source"), type_="check")
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=31),
            type_=sa.String(length=22),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(op.f("ck_segmentations_seg_source"), BEFORE)
