"""crawl_runs.pid/host/process_started, and one running crawl per database

Revision ID: 0007_crawl_run_process
Revises: 0006_image_dates
Create Date: 2026-12-01

A run records the process doing it (pid, host, start time), so a run left ``running`` by a crawl
that was killed outright can be told from one still working, and marked ``interrupted``. A
partial unique index lets the database itself refuse a second running crawl.

Runs left ``running`` before this revision recorded no process and can never be checked; the
upgrade marks them ``interrupted`` (what they stored is kept), which the index needs anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007_crawl_run_process"
down_revision: str | None = "0006_image_dates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ux_crawl_runs_one_running_crawl"
WHERE = "status = 'running' AND kind = 'crawl'"


def upgrade() -> None:
    op.execute(
        "UPDATE crawl_runs SET status = 'interrupted', finished_at = CURRENT_TIMESTAMP "
        "WHERE status = 'running'"
    )
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("process_started", sa.Float(), nullable=True))
    op.create_index(
        INDEX,
        "crawl_runs",
        ["kind"],
        unique=True,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="crawl_runs")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("process_started")
        batch_op.drop_column("host")
        batch_op.drop_column("pid")
