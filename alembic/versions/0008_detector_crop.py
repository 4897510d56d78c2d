"""predictions.crop: the dog box a cropped run classified

Revision ID: 0008_detector_crop
Revises: 0007_crawl_run_process
Create Date: 2026-12-21

``evaluate CLASSIFIER --crop DETECTOR`` crops each image to the dog box a detector found before
classifying it. Each prediction keeps the crop it was made on (pixels of the upright image, the
image's size, the detector's score and box) so galleries can draw it; NULL for images classified
whole, and for every prediction of runs made before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0008_detector_crop"
down_revision: str | None = "0007_crawl_run_process"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("crop", JSON_TYPE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("crop")
