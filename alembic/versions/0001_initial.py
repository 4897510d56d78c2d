"""initial schema: breeds, images, reviews, flags, crawl runs, models, evaluations

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Until the first release this revision is the whole schema; later changes get revisions of
their own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "breeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("synset", sa.String(length=12), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("dog_keyword", sa.Boolean(), nullable=False),
        sa.Column("query_flagged_by", sa.String(length=120), nullable=True),
        sa.Column("query_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breeds")),
        sa.UniqueConstraint("slug", name=op.f("uq_breeds_slug")),
        sa.UniqueConstraint("synset", name=op.f("uq_breeds_synset")),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "finished",
                "interrupted",
                "failed",
                name="run_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("settings", JSON_TYPE, nullable=False),
        sa.Column("stats", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("breed_id", sa.Integer(), nullable=False),
        sa.Column("found_breed_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("phash", sa.BigInteger(), nullable=True),
        sa.Column("dhash", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("thumb_path", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("landing_url", sa.Text(), nullable=True),
        sa.Column("license", sa.String(length=80), nullable=True),
        sa.Column("license_version", sa.String(length=20), nullable=True),
        sa.Column("license_url", sa.Text(), nullable=True),
        sa.Column("creator", sa.Text(), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "accepted", "rejected", name="image_status", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breed_id"], ["breeds.id"], name=op.f("fk_images_breed_id_breeds")
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"], ["crawl_runs.id"], name=op.f("fk_images_crawl_run_id_crawl_runs")
        ),
        sa.ForeignKeyConstraint(
            ["found_breed_id"], ["breeds.id"], name=op.f("fk_images_found_breed_id_breeds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("breed_id", "sha256", name=op.f("uq_images_breed_id_sha256")),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index("ix_images_breed_status", ["breed_id", "status", "id"], unique=False)
        batch_op.create_index("ix_images_status_breed", ["status", "breed_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_phash"), ["phash"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_status"), ["status"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("spec", JSON_TYPE, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("conversion", JSON_TYPE, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_versions_model_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["model_versions.id"],
            name=op.f("fk_model_versions_parent_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_model_versions_model_id_version")),
    )
    op.create_table(
        "calibration_images",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_calibration_images_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_calibration_images_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_version_id", "image_id", name=op.f("pk_calibration_images")),
    )
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "finished",
                "interrupted",
                "failed",
                name="run_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("dataset_hash", sa.String(length=64), nullable=True),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("settings", JSON_TYPE, nullable=False),
        sa.Column("metrics", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_eval_runs_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_runs_dataset_hash"), ["dataset_hash"], unique=False
        )
        batch_op.create_index(
            "ix_eval_runs_version_started", ["model_version_id", "started_at"], unique=False
        )

    op.create_table(
        "image_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "near_duplicate",
                "cross_breed",
                "leak",
                name="flag_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("other_image_id", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=120), nullable=True),
        sa.Column("resolution", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_image_flags_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["other_image_id"], ["images.id"], name=op.f("fk_image_flags_other_image_id_images")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_flags")),
    )
    with op.batch_alter_table("image_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_flags_image_id"), ["image_id"], unique=False)
        batch_op.create_index("ix_image_flags_kind_resolved", ["kind", "resolved_at"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=120), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "accept",
                "reject",
                "skip",
                "relabel",
                "undo",
                "reset",
                name="decision",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("target_breed_id", sa.Integer(), nullable=True),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_reviews_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["target_breed_id"], ["breeds.id"], name=op.f("fk_reviews_target_breed_id_breeds")
        ),
        sa.ForeignKeyConstraint(
            ["undoes_id"], ["reviews.id"], name=op.f("fk_reviews_undoes_id_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_image_id_id", ["image_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_reviewer"), ["reviewer"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_undoes_id"), ["undoes_id"], unique=False)

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("true_breed_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("top5", JSON_TYPE, nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_predictions_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["eval_runs.id"],
            name=op.f("fk_predictions_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["true_breed_id"], ["breeds.id"], name=op.f("fk_predictions_true_breed_id_breeds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("run_id", "image_id", name=op.f("uq_predictions_run_id_image_id")),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_predictions_image_id"), ["image_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_predictions_image_id"))

    op.drop_table("predictions")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_undoes_id"))
        batch_op.drop_index(batch_op.f("ix_reviews_reviewer"))
        batch_op.drop_index("ix_reviews_image_id_id")

    op.drop_table("reviews")
    with op.batch_alter_table("image_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_image_flags_kind_resolved")
        batch_op.drop_index(batch_op.f("ix_image_flags_image_id"))

    op.drop_table("image_flags")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_eval_runs_version_started")
        batch_op.drop_index(batch_op.f("ix_eval_runs_dataset_hash"))

    op.drop_table("eval_runs")
    op.drop_table("calibration_images")
    op.drop_table("model_versions")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_status"))
        batch_op.drop_index(batch_op.f("ix_images_sha256"))
        batch_op.drop_index(batch_op.f("ix_images_phash"))
        batch_op.drop_index("ix_images_status_breed")
        batch_op.drop_index("ix_images_breed_status")

    op.drop_table("images")
    op.drop_table("models")
    op.drop_table("crawl_runs")
    op.drop_table("breeds")
