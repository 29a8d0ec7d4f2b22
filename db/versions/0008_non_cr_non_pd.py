"""The response category "non_cr_non_pd" (RECIST 1.1 Table 2: non-target disease only, neither
gone nor progressing): the category column is widened and its CHECK constraint allows it.

Downgrading turns every "non_cr_non_pd" back into "ne", the category the rules before this
revision gave a patient without target lesion.

Revision ID: 0008_non_cr_non_pd
Revises: 0007_prediction_probabilities
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_non_cr_non_pd"
down_revision: str | None = "0007_prediction_probabilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: frozen here: the enum may change later
BEFORE = ("cr", "pr", "sd", "pd", "ne")
AFTER = ("cr", "pr", "sd", "non_cr_non_pd", "pd", "ne")
#: coded() makes the column as long as the longest value plus 8
LENGTH_BEFORE, LENGTH_AFTER = 10, 21


def _check(values: Sequence[str]) -> str:
    return "category IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _change(values: Sequence[str], length_from: int, length_to: int) -> None:
    with op.batch_alter_table("response_assessments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_response_assessments_response_category"), type_="check")
        batch_op.alter_column(
            "category",
            existing_type=sa.String(length=length_from),
            type_=sa.String(length=length_to),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_response_assessments_response_category"), _check(values)
        )


def upgrade() -> None:
    _change(AFTER, LENGTH_BEFORE, LENGTH_AFTER)


def downgrade() -> None:
    op.execute("UPDATE response_assessments SET category = 'ne' WHERE category = 'non_cr_non_pd'")
    _change(BEFORE, LENGTH_AFTER, LENGTH_BEFORE)
