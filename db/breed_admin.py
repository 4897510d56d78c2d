"""Changing the breeds of a database that has history: add, rename, remove, retarget.

A breed's row id is what images, reviews and predictions point at, so a rename changes the
slug (and the name) on that row and every image, decision and evaluation stays attached to it.
Removing a breed that anything points at would lose that history: it is refused unless the
caller says the images go too, and then the images, their reviews, flags and predictions go in
the caller's one transaction (all or nothing, on SQLite and PostgreSQL alike). The store's
files are left for ``breedbench fsck --repair``, which removes originals no row refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.breed_list import (
    BreedEntry,
    check_against,
    check_name,
    check_slug,
    check_target,
    new_breed,
)
from db.breeds import default_query
from db.models import (
    Breed,
    CalibrationImage,
    Image,
    ImageFlag,
    Prediction,
    Review,
)
from db.reviews import derive_outcome


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing a breed took with it."""

    slug: str
    images: int = 0
    reviews: int = 0
    predictions: int = 0
    flags: int = 0
    rederived: int = 0  # images of other breeds whose votes for this breed were dropped


def get_breed(session: Session, slug: str) -> Breed:
    breed = session.scalar(select(Breed).where(Breed.slug == slug))
    if breed is None:
        raise BreedbenchError(f"unknown breed {slug!r} (see `breedbench breeds` for the slugs)")
    return breed


def add_breed(session: Session, entry: BreedEntry) -> Breed:
    check_against(session, entry)
    position = (session.scalar(select(func.max(Breed.position))) or -1) + 1
    breed = new_breed(entry, position)
    session.add(breed)
    session.flush()
    return breed


def rename_breed(session: Session, slug: str, new_slug: str, *, name: str | None = None) -> Breed:
    """Give a breed a new slug (and name); its images, reviews and runs stay its own. A query
    that was derived from the old slug or name follows; one set by hand stays."""
    breed = get_breed(session, slug)
    new_slug = check_slug(new_slug.strip())
    new_name = check_name(name) if name is not None else breed.name
    entry = BreedEntry(slug=new_slug, name=new_name, synset=breed.synset, keyword=breed.keyword)
    check_against(session, entry, ignore_id=breed.id)
    if breed.query == default_query(breed.slug):
        breed.query = default_query(new_slug)
    elif breed.query == _name_query(breed.name):
        breed.query = _name_query(new_name)
    breed.slug, breed.name = new_slug, new_name
    session.flush()
    return breed


def _name_query(name: str) -> str:
    return re.sub(r"[-_\s]+", " ", name).strip()


def set_target(session: Session, slugs: list[str] | None, target: int | str) -> int:
    """Set the target of these breeds (None: every breed); returns how many rows changed."""
    n = check_target(target)
    if slugs:
        ids = [get_breed(session, s).id for s in slugs]
        stmt = update(Breed).where(Breed.id.in_(ids))
    else:
        stmt = update(Breed)
    return session.execute(stmt.values(target=n)).rowcount or 0


def remove_breed(
    session: Session, slug: str, *, with_images: bool = False, min_reviews: int = 1
) -> Removal:
    """Remove a breed; with its images (``with_images``) when it has any, else refused."""
    breed = get_breed(session, slug)
    bid = breed.id
    image_ids = list(
        session.scalars(
            select(Image.id).where(or_(Image.breed_id == bid, Image.found_breed_id == bid))
        )
    )
    votes = list(session.scalars(select(Review).where(Review.target_breed_id == bid)))
    n_predictions = session.scalar(
        select(func.count())
        .select_from(Prediction)
        .where(
            or_(
                Prediction.true_breed_id == bid,
                Prediction.image_id.in_(image_ids) if image_ids else False,
            )
        )
    )
    if (image_ids or votes or n_predictions) and not with_images:
        n_reviews = (
            session.scalar(
                select(func.count()).select_from(Review).where(Review.image_id.in_(image_ids))
            )
            if image_ids
            else 0
        )
        raise BreedbenchError(
            f"breed {slug!r} has {len(image_ids)} images, {n_reviews} review decisions and "
            f"{n_predictions} predictions: removing it would lose them. Run again with "
            "--with-images to remove them too"
        )
    outside = sorted({v.image_id for v in votes} - set(image_ids))
    n_reviews = n_flags = n_pred = 0
    if image_ids or votes or n_predictions:
        n_pred = _delete(
            session,
            delete(Prediction).where(
                or_(
                    Prediction.true_breed_id == bid,
                    Prediction.image_id.in_(image_ids) if image_ids else False,
                )
            ),
        )
        if image_ids:
            n_flags = _delete(
                session,
                delete(ImageFlag).where(
                    or_(ImageFlag.image_id.in_(image_ids), ImageFlag.other_image_id.in_(image_ids))
                ),
            )
            _delete(
                session, delete(CalibrationImage).where(CalibrationImage.image_id.in_(image_ids))
            )
        # Votes for this breed on other breeds' images go too, with the undos that point at
        # them; those images' status is derived again from what remains.
        vote_ids = [v.id for v in votes if v.image_id not in image_ids]
        if vote_ids:
            undos = select(Review.id).where(Review.undoes_id.in_(vote_ids))
            n_reviews += _delete(session, delete(Review).where(Review.id.in_(undos)))
            n_reviews += _delete(session, delete(Review).where(Review.id.in_(vote_ids)))
        if image_ids:
            # Undo rows point at rows of the same image: they go in the same statement.
            n_reviews += _delete(session, delete(Review).where(Review.image_id.in_(image_ids)))
            _delete(session, delete(Image).where(Image.id.in_(image_ids)))
        session.flush()
        for image_id in outside:
            _rederive(session, image_id, min_reviews)
    session.delete(breed)
    session.flush()
    return Removal(slug, len(image_ids), n_reviews, n_pred, n_flags, len(outside))


def _delete(session: Session, stmt) -> int:  # type: ignore[no-untyped-def]
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0


def _rederive(session: Session, image_id: int, min_reviews: int) -> None:
    image = session.get(Image, image_id, populate_existing=True)
    if image is None:
        return
    history = list(
        session.scalars(select(Review).where(Review.image_id == image_id).order_by(Review.id))
    )
    outcome = derive_outcome(history, min_reviews)
    image.status = outcome.status
    image.breed_id = outcome.breed_id or image.found_breed_id
