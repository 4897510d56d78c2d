"""Leak check: curated images that near-match a reference (training) image get flagged."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from crawler.leakcheck import leakcheck, nearest
from db.database import Database
from db.hashing import hamming_distances
from db.models import FlagKind, ImageFlag
from tests.cli.helpers import cli
from tests.factories import encode, insert_image, jpeg_bytes, photo


def test_nearest_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    refs = rng.integers(-(2**63), 2**63 - 1, size=3000, dtype=np.int64)
    queries = np.concatenate([refs[[5, 17]] ^ np.int64(0b101), rng.integers(0, 2**62, size=50)])
    idx, dist = nearest(refs, queries)
    for q, i, d in zip(queries, idx, dist, strict=True):
        brute = hamming_distances(refs, int(q))
        assert d == brute.min() and brute[i] == d
    assert list(idx[:2]) == [5, 17] and list(dist[:2]) == [2, 2]


def make_reference(root: Path) -> None:
    folder = root / "n02108089-boxer"
    folder.mkdir(parents=True)
    # The same photo as curated image seed 2, resized and recompressed: a leak.
    (folder / "n02108089_1.jpg").write_bytes(jpeg_bytes(500, 375, seed=2, quality=70))
    (folder / "n02108089_2.png").write_bytes(encode(photo(320, 240, seed=99), "PNG"))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    (folder / "readme.txt").write_text("not an image")


def test_leakcheck_flags_near_matches_once(database: Database, tmp_path: Path) -> None:
    ids = {seed: insert_image(database, "boxer", seed) for seed in (1, 2, 3)}
    make_reference(tmp_path / "Images")
    report = leakcheck(database, tmp_path / "Images", workers=1)
    assert report.reference_files == 3 and report.reference_hashed == 2 and report.checked == 3
    assert [(leak.image_id, leak.reference) for leak in report.leaks] == [
        (ids[2], "n02108089-boxer/n02108089_1.jpg")
    ]
    again = leakcheck(database, tmp_path / "Images", workers=1)
    assert len(again.leaks) == 1 and not again.leaks[0].new
    with database.session() as s:
        flags = list(s.scalars(select(ImageFlag).where(ImageFlag.kind == FlagKind.LEAK)))
    assert len(flags) == 1
    assert flags[0].image_id == ids[2] and flags[0].detail == "n02108089-boxer/n02108089_1.jpg"


def test_cli_leakcheck(database: Database, tmp_path: Path) -> None:
    insert_image(database, "boxer", 2)
    make_reference(tmp_path / "Images")
    result = cli(database, "leakcheck", "--reference", tmp_path / "Images")
    assert result.exit_code == 0, result.output
    assert "1 leaks, 1 newly flagged" in result.output
    result = cli(database, "leakcheck", "--reference", tmp_path / "none")
    assert result.exit_code == 1 and "does not exist" in result.output
    # A 64-bit hash has 64 bits: a larger distance would flag every image.
    ref = ["leakcheck", "--reference", str(tmp_path / "Images"), "--distance", "65"]
    result = cli(database, *ref)
    assert result.exit_code == 2 and "--distance" in result.output and "64" in result.output


def test_large_reference_sets_hash_in_worker_processes(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler import leakcheck as module

    pools: list[dict[str, object]] = []

    class RecordingPool(module.ProcessPoolExecutor):
        """The real pool; remembers how many workers it had and which processes ran."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            pools.append({"max_workers": self._max_workers, "pids": set()})

        def shutdown(self, *args: object, **kwargs: object) -> None:
            pools[-1]["pids"] = {p for p in (self._processes or {})}
            super().shutdown(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "ProcessPoolExecutor", RecordingPool)
    leaked = insert_image(database, "pug", 7)
    folder = tmp_path / "Images" / "n02110958-pug"
    folder.mkdir(parents=True)
    for i in range(70):  # above the threshold for the process pool
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(160, 120, seed=1000 + i))
    (folder / "copy.jpg").write_bytes(jpeg_bytes(480, 360, seed=7, quality=60))
    report = leakcheck(database, tmp_path / "Images", workers=2)
    assert report.reference_hashed == 71
    assert [(leak.image_id, leak.reference) for leak in report.leaks] == [
        (leaked, "n02110958-pug/copy.jpg")
    ]
    assert len(pools) == 1 and pools[0]["max_workers"] == 2
    pids = pools[0]["pids"]
    assert isinstance(pids, set) and pids and os.getpid() not in pids
