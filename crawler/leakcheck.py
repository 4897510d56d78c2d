"""Leak check: flag every curated image that near-matches an image of a reference set.

An unseen test set must not contain training images. ``leakcheck`` hashes every image under a
reference tree (e.g. Stanford Dogs ``Images/``, 20,580 files) with the same pHash as the store,
in a process pool, then compares all curated images against all reference hashes in blocks:
one XOR + popcount over a (block × references) matrix, never a Python loop over pairs. Each
curated image within ``max_distance`` bits of a reference image gets an ``image_flags`` row of
kind ``leak`` naming the reference file (once; running again adds no duplicate flags).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select

from core.errors import BreedbenchError
from db.database import Database
from db.hashing import NEAR_DUPLICATE_DISTANCE, open_working, perceptual_hashes
from db.models import Breed, FlagKind, Image, ImageFlag

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
# Upper bound on the elements of one comparison block (8 bytes each before the popcount).
BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True, slots=True)
class Leak:
    image_id: int
    breed: str
    reference: str  # path relative to the reference root
    distance: int
    new: bool  # False when an open flag for this pair already existed


@dataclass
class LeakReport:
    reference_files: int
    reference_hashed: int
    checked: int
    leaks: list[Leak]


def reference_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def hash_file(path: Path) -> int | None:
    """pHash of a file as a signed 64-bit integer; ``None`` if it does not decode."""
    try:
        with open_working(path) as img:
            return perceptual_hashes(img)[0]
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return None


def hash_files(paths: list[Path], workers: int | None = None) -> list[int | None]:
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) < 64:
        return [hash_file(p) for p in paths]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding a database
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        return list(pool.map(hash_file, paths, chunksize=64))


def nearest(references: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query hash: index of the nearest reference hash and its Hamming distance."""
    if len(references) == 0 or len(queries) == 0:
        empty = np.zeros(len(queries), dtype=np.int64)
        return empty, np.full(len(queries), 65, dtype=np.int64)
    refs = references.astype(np.int64).view(np.uint64)
    qs = queries.astype(np.int64).view(np.uint64)
    block = max(1, BLOCK_ELEMENTS // len(refs))
    idx = np.empty(len(qs), dtype=np.int64)
    dist = np.empty(len(qs), dtype=np.int64)
    for start in range(0, len(qs), block):
        d = np.bitwise_count(qs[start : start + block, None] ^ refs[None, :])
        best = d.argmin(axis=1)
        idx[start : start + block] = best
        dist[start : start + block] = d[np.arange(len(best)), best]
    return idx, dist


def leakcheck(
    db: Database,
    root: Path,
    *,
    max_distance: int = NEAR_DUPLICATE_DISTANCE,
    workers: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> LeakReport:
    if not root.is_dir():
        raise BreedbenchError(f"reference folder {root} does not exist or is not a folder")
    files = reference_files(root)
    if not files:
        raise BreedbenchError(f"no images under {root} (looked for {', '.join(IMAGE_SUFFIXES)})")
    if on_stage:
        on_stage(f"hashing {len(files)} reference images")
    hashes = hash_files(files, workers)
    ok = [i for i, h in enumerate(hashes) if h is not None]
    ref_paths = [files[i] for i in ok]
    refs = np.array([hashes[i] for i in ok], dtype=np.int64)
    with db.session() as s:
        rows = s.execute(
            select(Image.id, Breed.slug, Image.phash)
            .join(Breed, Breed.id == Image.breed_id)
            .where(Image.phash.is_not(None))
            .order_by(Image.id)
        ).all()
    if on_stage:
        on_stage(f"comparing {len(rows)} images with {len(refs)} reference hashes")
    queries = np.array([r.phash for r in rows], dtype=np.int64)
    idx, dist = nearest(refs, queries)
    hits = np.flatnonzero(dist <= max_distance)
    leaks: list[Leak] = []
    with db.session() as s:
        open_flags = set(
            s.execute(
                select(ImageFlag.image_id, ImageFlag.detail).where(
                    ImageFlag.kind == FlagKind.LEAK, ImageFlag.resolved_at.is_(None)
                )
            ).tuples()
        )
        for i in hits:
            row = rows[int(i)]
            ref = ref_paths[int(idx[i])].relative_to(root).as_posix()
            new = (row.id, ref) not in open_flags
            if new:
                s.add(
                    ImageFlag(
                        image_id=row.id, kind=FlagKind.LEAK, distance=int(dist[i]), detail=ref
                    )
                )
            leaks.append(Leak(row.id, row.slug, ref, int(dist[i]), new))
    return LeakReport(len(files), len(ok), len(rows), leaks)
