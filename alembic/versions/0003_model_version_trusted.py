"""model_versions.trusted: a version registered with --trust-model skips the op check

Revision ID: 0003_model_trusted
Revises: 0002
Create Date: 2026-12-16

Models are code: every version's ops are checked when it is registered and whenever it is
loaded. ``trusted`` records that a person registered the version with ``--trust-model``, so the
check is skipped for it. Every version stored before this revision is untrusted (false): it is
checked, with the allow-list, the next time it loads.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003_model_trusted"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trusted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("trusted")
