"""review leases, and the browser's id of each queue decision

Revision ID: 0009_review_leases
Revises: 0008_detector_crop
Create Date: 2026-12-01

The review queue runs in the reviewer's browser: it holds the next images and sends its
decisions in the background, resending them until the server acknowledges them. Each decision
carries an id made by the browser (``reviews.client_id``, unique), so a resent decision is
recognised instead of recorded twice. ``review_leases`` holds the images handed to a reviewer's
window for a few minutes, so two reviewers do not get the same image at the same time.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009_review_leases"
down_revision: str | None = "0008_detector_crop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_reviews_client_id", ["client_id"])
    op.create_table(
        "review_leases",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name="fk_review_leases_image_id_images",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", name="pk_review_leases"),
    )
    op.create_index("ix_review_leases_expires_at", "review_leases", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_leases_expires_at", table_name="review_leases")
    op.drop_table("review_leases")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reviews_client_id", type_="unique")
        batch_op.drop_column("client_id")
