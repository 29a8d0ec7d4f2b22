"""The genotype class probabilities of each prediction as float columns (p_kit11, p_kit9,
p_pdgfra, p_wt_other), filled on write and back-filled here from the stored JSON, so that a
large cohort is grouped by predicted status reading numbers, not parsing JSON per row.

Revision ID: 0007_prediction_probabilities
Revises: 0006_semi_automatic_outline
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_prediction_probabilities"
down_revision: str | None = "0006_semi_automatic_outline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: class name in the JSON -> its column (frozen here: the models may change later)
CLASSES = {"kit11": "p_kit11", "kit9": "p_kit9", "pdgfra": "p_pdgfra", "wt_other": "p_wt_other"}
COMMENT = "copy of the class probability in probabilities; null when it has none"


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        for column in CLASSES.values():
            batch_op.add_column(sa.Column(column, sa.Float(), nullable=True, comment=COMMENT))
    predictions = sa.table(
        "predictions",
        sa.column("probabilities", sa.JSON()),
        *(sa.column(column, sa.Float()) for column in CLASSES.values()),
    )
    # one UPDATE over every row, the JSON read by the database (a class a row lacks: NULL)
    op.execute(
        predictions.update().values(
            {
                column: predictions.c.probabilities[name].as_float()
                for name, column in CLASSES.items()
            }
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        for column in reversed(CLASSES.values()):
            batch_op.drop_column(column)
