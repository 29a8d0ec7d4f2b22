"""Semi-automatic tumour outlines: the segmentation source "semi_automatic", and who made a
segmentation and when.
Revision ID: 0006_semi_automatic_outline
Revises: 0005_scale_indexes
Create Date: 2026-12-05 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_semi_automatic_outline"
down_revision: str | None = "0005_scale_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segmentations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_segmentations_seg_source"), type_="check")
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=14),
            type_=sa.String(length=22),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_segmentations_seg_source"),
            "source IN ('manual', 'model', 'semi_automatic')",
        )
        batch_op.add_column(
            sa.Column(
                "created_by",
                sa.String(length=120),
                nullable=True,
                comment="the account that drew or grew it (none for imported masks)",
            )
        )
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM segmentations WHERE source = 'semi_automatic'")
    with op.batch_alter_table("segmentations", schema=None) as batch_op:
        batch_op.drop_column("created_at")
        batch_op.drop_column("created_by")
        batch_op.drop_constraint(op.f("ck_segmentations_seg_source"), type_="check")
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=22),
            type_=sa.String(length=14),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_segmentations_seg_source"), "source IN ('manual', 'model')"
        )
