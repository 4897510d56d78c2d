"""image dates (upload, capture, source index) and breed lists (search keyword, ambiguity)

Revision ID: 0006_image_dates
Revises: 0005_run_probabilities
Create Date: 2026-12-01

Images keep the dates their source gives: ``uploaded_at`` (when the file was published: Flickr's
``dateupload``, the Commons upload of the file version fetched), ``taken_at`` (the capture date:
Flickr's ``datetaken``, Commons' ``DateTimeOriginal``) and ``indexed_at`` (Openverse's
``indexed_on``: the upload happened on or before it). Breeds get the word a query takes when the
name alone finds other things (``keyword``, NULL: "dog") and whether their list marked the name
as ambiguous (``ambiguous``, NULL: the curated list of Stanford names decides). Existing rows
get NULLs, which keep their behaviour.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006_image_dates"
down_revision: str | None = "0005_run_probabilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMAGE_DATES = ("uploaded_at", "taken_at", "indexed_at")


def upgrade() -> None:
    # Nullable columns are added in place (ALTER TABLE ... ADD COLUMN) on both databases.
    for name in IMAGE_DATES:
        op.add_column("images", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_images_uploaded_at", "images", ["uploaded_at"], unique=False)
    op.add_column("breeds", sa.Column("keyword", sa.String(length=40), nullable=True))
    op.add_column("breeds", sa.Column("ambiguous", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL): batch mode would copy and drop
    # ``breeds`` and ``images``, which the rows of other tables refer to.
    op.drop_column("breeds", "ambiguous")
    op.drop_column("breeds", "keyword")
    op.drop_index("ix_images_uploaded_at", table_name="images")
    for name in reversed(IMAGE_DATES):
        op.drop_column("images", name)
