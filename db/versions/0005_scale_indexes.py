"""Indexes the large-cohort query plans ask for: the genotype filter of the cohort and
survival selections, and the "has a prediction from model X" test of each patient.

Revision ID: 0005_scale_indexes
Revises: 0004_follow_up
Create Date: 2026-12-05 21:35:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_scale_indexes"
down_revision: str | None = "0004_follow_up"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tumours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tumours_genotype_detail"), ["genotype_detail"], unique=False
        )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_predictions_patient_model", ["patient_id", "model_version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_patient_model")
    with op.batch_alter_table("tumours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tumours_genotype_detail"))
