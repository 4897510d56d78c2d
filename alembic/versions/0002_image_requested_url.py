"""images.requested_url: the URL a search result gave when redirects moved the image

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-14

``images.url`` is where the bytes were finally fetched (every redirect hop checked by the
crawler's address guard); when that differs from the URL the search result gave, the latter is
kept here so later crawls recognise the result and reviewers can trace it. NULL otherwise, and
for every image stored before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("requested_url")
