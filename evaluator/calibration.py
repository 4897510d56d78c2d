"""The representative dataset of a full-integer conversion: accepted images, stratified by breed.

Full-integer quantization learns each activation's range from a few hundred inputs. They must be
preprocessed exactly as the converted model will be fed (the derived spec: e.g. pixels − 128 at
``Sub``), or the ranges are wrong and the model is quietly worse. They come from the curated test
set itself, so they are recorded (``calibration_images``): the evaluation of that version leaves
them out by default, or keeps them and says how many overlap (``evaluator.pipeline.select_images``
reads ``calibration_images``; ``breedbench evaluate --include-calibration`` keeps them).

The choice is deterministic: breeds take turns (one image each, round after round) so every breed
is represented before any breed gets a second image; within a breed the order is a seeded hash of
the image's sha256, so the same database and seed always calibrate on the same images.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.database import Database
from db.models import CalibrationImage, Image, ImageStatus
from evaluator.preprocess import preprocess
from evaluator.spec import InputSpec


@dataclass(frozen=True)
class CalibrationSet:
    """The chosen images (ids, in the order they calibrate) and the breed of each."""

    image_ids: list[int]
    breed_of: dict[int, int]

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def breeds(self) -> int:
        """How many breeds the chosen images cover."""
        return len({self.breed_of[i] for i in self.image_ids})

    def only(self, image_ids: Sequence[int]) -> CalibrationSet:
        return CalibrationSet(list(image_ids), self.breed_of)


def _order_key(seed: int, sha256: str) -> str:
    return hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()


def select_calibration_images(
    session: Session, n: int, *, seed: int = 0, breed_ids: Iterable[int] | None = None
) -> CalibrationSet:
    """``n`` accepted images, breeds taking turns; ``breed_ids`` limits them to the breeds a
    model can predict. Fewer accepted images than ``n``: all of them."""
    if n < 1:
        raise BreedbenchError("the number of calibration images must be at least 1")
    query = select(Image.id, Image.breed_id, Image.sha256).where(
        Image.status == ImageStatus.ACCEPTED
    )
    if breed_ids is not None:
        query = query.where(Image.breed_id.in_(list(breed_ids)))
    by_breed: dict[int, list[tuple[str, int]]] = defaultdict(list)
    breed_of: dict[int, int] = {}
    for image_id, breed_id, sha in session.execute(query):
        by_breed[breed_id].append((_order_key(seed, sha), image_id))
        breed_of[image_id] = breed_id
    if not by_breed:
        raise BreedbenchError(
            "no accepted images to calibrate on: accept some images first (breedbench review), "
            "or convert without --quantize int8"
        )
    queues = [sorted(v, reverse=True) for _, v in sorted(by_breed.items())]
    chosen: list[int] = []
    while len(chosen) < n and any(queues):
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop()[1])
    return CalibrationSet(chosen, {i: breed_of[i] for i in chosen})


def preprocess_images(
    db: Database, image_ids: Sequence[int], spec: InputSpec, *, threads: int = 4
) -> tuple[list[int], list[np.ndarray]]:
    """The images as the model's input expects them (prepared, then normalised, as the
    evaluation does), float32; and the ids actually used: an image whose file is missing or no
    longer decodes is skipped, like the evaluation skips it."""
    if spec.kind == "jpeg_bytes":
        raise BreedbenchError(
            "this model's input is JPEG bytes: a converted model starts after the decoder "
            "(choose --input, e.g. Sub)"
        )
    with db.session() as s:
        paths = dict(s.execute(select(Image.id, Image.path).where(Image.id.in_(image_ids))).all())

    def one(image_id: int) -> np.ndarray | None:
        try:
            x = preprocess(db.store.read(paths[image_id]), spec)
        except (BreedbenchError, OSError):
            return None
        return np.asarray(x).astype(np.float32, copy=False)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        arrays = list(pool.map(one, image_ids))
    used = [(i, a) for i, a in zip(image_ids, arrays, strict=True) if a is not None]
    if not used:
        raise BreedbenchError(
            f"none of the {len(image_ids)} calibration images could be read and decoded"
        )
    return [i for i, _ in used], [a for _, a in used]


def representative_dataset(inputs: Sequence[np.ndarray], rank: int | None):
    """The converter's ``representative_dataset``: one input per step, with a batch dimension
    when the converted model's input has one (``rank`` 4)."""

    def gen() -> Iterator[list[np.ndarray]]:
        for x in inputs:
            yield [x[None] if rank is not None and x.ndim == rank - 1 else x]

    return gen


def record_calibration(session: Session, model_version_id: int, image_ids: Iterable[int]) -> int:
    """Store which images calibrated the version (replacing any earlier record)."""
    ids = sorted(set(image_ids))
    session.execute(
        delete(CalibrationImage).where(CalibrationImage.model_version_id == model_version_id)
    )
    session.add_all(CalibrationImage(model_version_id=model_version_id, image_id=i) for i in ids)
    session.flush()
    return len(ids)


def calibration_image_ids(session: Session, model_version_id: int) -> set[int]:
    """The images that calibrated this version (empty for versions that needed none)."""
    return set(
        session.scalars(
            select(CalibrationImage.image_id).where(
                CalibrationImage.model_version_id == model_version_id
            )
        )
    )
