"""Leases: an image handed to one reviewer's queue window is theirs for a few minutes.

The queue runs ahead of the reviewer in the browser, so the next few images are already chosen
when the current one is decided. Without a lease two reviewers working at the same time would
be handed the same pending images and decide them twice. A lease is one row per image (the
image is the key, so at most one holder); it ends on its own when ``expires_at`` passes, so a
closed tab frees its images without any clean-up. The time comes from a clock the caller
passes, so tests move it instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Insert, bindparam, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import ReviewLease

Clock = Callable[[], datetime]
LEASE_TTL = timedelta(minutes=3)


@cache
def _upsert(dialect: str) -> Insert:
    """The lease statement, built once per dialect (building it costs more than running it)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = ReviewLease.__table__
    when = table.c.expires_at.type
    stmt = insert(table).values(
        image_id=bindparam("l_image", type_=table.c.image_id.type),
        reviewer=bindparam("l_reviewer", type_=table.c.reviewer.type),
        expires_at=bindparam("l_expires", type_=when),
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.image_id],
        set_={"reviewer": stmt.excluded.reviewer, "expires_at": stmt.excluded.expires_at},
        where=or_(
            table.c.reviewer == bindparam("l_reviewer", type_=table.c.reviewer.type),
            table.c.expires_at <= bindparam("l_now", type_=when),
        ),
    )


def system_clock() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """Leases compare times in the database: always UTC, and naive on SQLite like its column."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def acquire(
    session: Session,
    reviewer: str,
    image_ids: Sequence[int],
    *,
    now: datetime,
    ttl: timedelta = LEASE_TTL,
) -> set[int]:
    """Lease these images to ``reviewer`` (renewing their own leases); the ids they now hold.

    One insert for all of them that updates a row only when it is this reviewer's or expired:
    two reviewers asking for the same free image at once cannot both get it, on SQLite (writes
    are serialised) or PostgreSQL (the row conflict is resolved by the database).
    """
    if not image_ids:
        return set()
    now = _utc(now)
    expires = now + ttl
    rows = [
        {"l_image": i, "l_reviewer": reviewer, "l_expires": expires, "l_now": now}
        for i in dict.fromkeys(image_ids)
    ]
    session.execute(_upsert(session.get_bind().dialect.name), rows)
    held = session.scalars(
        select(ReviewLease.image_id).where(
            ReviewLease.image_id.in_(list(image_ids)),
            ReviewLease.reviewer == reviewer,
            ReviewLease.expires_at > now,
        )
    )
    return set(held)


def leased_to_others(session: Session, reviewer: str, *, now: datetime) -> list[int]:
    """Images another reviewer holds right now (a handful per reviewer at work)."""
    return list(
        session.scalars(
            select(ReviewLease.image_id).where(
                ReviewLease.reviewer != reviewer, ReviewLease.expires_at > _utc(now)
            )
        )
    )


def release(session: Session, reviewer: str, image_ids: Iterable[int]) -> None:
    """End ``reviewer``'s leases on these images (decided or skipped: others may have them)."""
    ids = list(image_ids)
    if ids:
        session.execute(
            delete(ReviewLease).where(
                ReviewLease.image_id.in_(ids), ReviewLease.reviewer == reviewer
            )
        )


def purge_expired(session: Session, *, now: datetime) -> int:
    """Drop leases that have ended (they already count as free; this only keeps the table small)."""
    result = session.execute(delete(ReviewLease).where(ReviewLease.expires_at <= _utc(now)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
