"""reference_pins, screening_runs, screenings: reference pictures and screening before review

Revision ID: 0010_screening_references
Revises: 0009_review_leases
Create Date: 2026-12-01

Reviewers pin accepted images as a breed's canonical reference pictures (``reference_pins``).
``breedbench screen`` runs a model over pending images and keeps, per image, its dog score, its
top-3 breeds and whether it agrees with the claimed breed (``screenings``, one row per image and
run); ``screening_runs`` remembers which version screened, so a later evaluation of that version
can warn that it helped choose the set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0010_screening_references"
down_revision: str | None = "0009_review_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reference_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("breed_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.String(length=120), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breed_id"], ["breeds.id"], name=op.f("fk_reference_pins_breed_id_breeds")
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_reference_pins_image_id_images")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_pins")),
        sa.UniqueConstraint(
            "breed_id", "image_id", name=op.f("uq_reference_pins_breed_id_image_id")
        ),
    )
    with op.batch_alter_table("reference_pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reference_pins_image_id"), ["image_id"], unique=False)

    op.create_table(
        "screening_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("settings", JSON_TYPE, nullable=False),
        sa.Column("stats", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_screening_runs_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_runs")),
    )
    with op.batch_alter_table("screening_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_runs_model_version_id"), ["model_version_id"], unique=False
        )

    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("claimed_breed_id", sa.Integer(), nullable=False),
        sa.Column("dog_score", sa.Double(), nullable=False),
        sa.Column("claimed_score", sa.Double(), nullable=True),
        sa.Column("top3", JSON_TYPE, nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_breed_id"], ["breeds.id"], name=op.f("fk_screenings_claimed_breed_id_breeds")
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_screenings_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["screening_runs.id"],
            name=op.f("fk_screenings_run_id_screening_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
        sa.UniqueConstraint("run_id", "image_id", name=op.f("uq_screenings_run_id_image_id")),
    )
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.create_index("ix_screenings_image_id_id", ["image_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.drop_index("ix_screenings_image_id_id")
    op.drop_table("screenings")
    with op.batch_alter_table("screening_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_runs_model_version_id"))
    op.drop_table("screening_runs")
    with op.batch_alter_table("reference_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reference_pins_image_id"))
    op.drop_table("reference_pins")
