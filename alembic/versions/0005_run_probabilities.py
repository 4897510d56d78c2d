"""predictions.probs, eval_runs.prob_breed_ids, label_checks: ranking suspected label errors

Revision ID: 0005_run_probabilities
Revises: 0004_quantization
Create Date: 2026-12-21

Each prediction now keeps the model's probability of every breed it predicts (float16 bytes, in
the order of its run's ``prob_breed_ids``), so ``breedbench suspects`` can rank accepted images
by how strongly the models disagree with their label. Runs recorded before this revision keep
only their top-5 (NULL here) and are not used for that ranking. ``label_checks`` records a label
a reviewer kept after looking at it, and the score it had then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005_run_probabilities"
down_revision: str | None = "0004_quantization"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prob_breed_ids", JSON_TYPE, nullable=True))
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probs", sa.LargeBinary(), nullable=True))
    op.create_table(
        "label_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("breed_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reviewer", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breed_id"], ["breeds.id"], name=op.f("fk_label_checks_breed_id_breeds")
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_label_checks_image_id_images")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_checks")),
    )
    with op.batch_alter_table("label_checks", schema=None) as batch_op:
        batch_op.create_index("ix_label_checks_image_id_id", ["image_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("label_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_label_checks_image_id_id")
    op.drop_table("label_checks")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("probs")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_column("prob_breed_ids")
