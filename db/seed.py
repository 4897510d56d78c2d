"""Seeding the breeds table: idempotent, and never overwriting what users changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.breeds import DEFAULT_TARGET, stanford_breeds
from db.models import Breed


def seed_breeds(session: Session, target: int = DEFAULT_TARGET) -> int:
    """Insert the Stanford breeds that are missing; returns how many were added.

    Existing rows keep their query, dog-keyword flag and target: those are user decisions.
    """
    existing = set(session.scalars(select(Breed.slug)))
    added = 0
    for position, seed in enumerate(stanford_breeds()):
        if seed.slug in existing:
            continue
        session.add(
            Breed(
                slug=seed.slug,
                name=seed.name,
                synset=seed.synset,
                position=position,
                query=seed.query,
                dog_keyword=False,
                target=target,
            )
        )
        added += 1
    session.flush()
    return added
