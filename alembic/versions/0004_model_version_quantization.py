"""model_versions.quantization: what a .tflite computes in, read from the file

Revision ID: 0004_quantization
Revises: 0003_model_trusted
Create Date: 2026-12-20

Registering a ``.tflite`` now reads its quantization from its tensors and operators (float32,
float16, dynamic range, full integer and its I/O type), so a file added with ``models add``
shows it too. Versions stored before this revision have none (NULL): their conversion record,
if any, says what the converter was asked for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004_quantization"
down_revision: str | None = "0003_model_trusted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quantization", JSON_TYPE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("quantization")
