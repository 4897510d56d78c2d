"""The store pipeline: validate → hash → dedup → store, one committed row per image.

``process_item`` only adapts the item: the checks are the plain functions of
``crawler.validation`` and ``crawler.dedup``. Decoding and hashing run in a small thread pool
(Pillow releases the GIL), so downloads go on meanwhile; the dedup check and the database write
run in one dedicated thread, so check-then-insert is never interleaved and SQLite sees a single
writer. Each image is its own transaction: a crawl stopped at any point leaves whole rows and
whole files (the store writes to a temporary name and renames). Refusals raise ``DropItem`` with
the reason and count as ``refused/<reason>`` in the crawl stats.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.dedup import DedupIndex, DedupResult, Verdict, cross_breed_flags
from crawler.validation import Refusal, ValidImage, validate_image
from db.database import Database
from db.images import ImageMeta, add_image

logger = logging.getLogger(__name__)


def image_meta(item: dict[str, Any]) -> ImageMeta:
    c = item["candidate"]
    return ImageMeta(
        source=c.get("source") or "unknown",
        query=item.get("query"),
        url=c.get("url"),
        landing_url=c.get("landing_url"),
        license=c.get("license"),
        license_version=c.get("license_version"),
        license_url=c.get("license_url"),
        creator=c.get("creator"),
        attribution=c.get("attribution"),
    )


def store_valid(
    db: Database,
    index: DedupIndex,
    valid: ValidImage,
    breed_id: int,
    meta: ImageMeta,
    crawl_run_id: int | None,
) -> tuple[DedupResult, int | None]:
    """Dedup, then insert the row and its cross-breed flags in one transaction.

    Shared by the crawl and the folder import. Returns the verdict and the new image id (None
    when the image was a duplicate within its breed and nothing was written).
    """
    result = index.check(breed_id, valid.sha256, valid.phash)
    if not result.keep:
        return result, None
    with db.session() as s:
        row = add_image(
            s, db.store, valid.data, breed_id, meta, decoded=valid.image, crawl_run_id=crawl_run_id
        )
        s.add_all(cross_breed_flags(row.id, result))
        image_id = row.id
    index.add(image_id, breed_id, valid.sha256, valid.phash)
    return result, image_id


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.min_side = s.getint("BREEDBENCH_MIN_SIDE")
        self.max_bytes = s.getint("BREEDBENCH_MAX_BYTES")
        self.max_pixels = s.getint("BREEDBENCH_MAX_PIXELS")
        self.decode_pool = ThreadPoolExecutor(
            max_workers=max(1, s.getint("BREEDBENCH_DECODE_THREADS", 2)),
            thread_name_prefix="bb-decode",
        )
        self.db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bb-db")
        self.index: DedupIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def context(self) -> Any:
        return self.crawler.spider.context  # type: ignore[union-attr]

    def open_spider(self) -> None:
        with self.context.db.session() as s:
            self.index = DedupIndex.load(s)

    def close_spider(self) -> None:
        self.decode_pool.shutdown(wait=True)
        self.db_pool.shutdown(wait=True)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        spider = self.crawler.spider
        slug = item["breed"]
        if self.context.stop_requested:
            # Stopping: what is still arriving is dropped whole; the next crawl tops up.
            self.crawler.stats.inc_value("dropped/stopping")
            raise DropItem("crawl is stopping")
        outcome, cross = "error", False
        try:
            validate = partial(
                validate_image,
                item["body"],
                min_side=self.min_side,
                max_bytes=self.max_bytes,
                max_pixels=self.max_pixels,
            )
            try:
                valid = await loop.run_in_executor(self.decode_pool, validate)
            except Refusal as r:
                outcome = r.reason
                raise DropItem(f"{r} ({item['candidate'].get('url')})") from None
            assert self.index is not None
            result, image_id = await loop.run_in_executor(
                self.db_pool,
                store_valid,
                self.context.db,
                self.index,
                valid,
                item["breed_id"],
                image_meta(item),
                self.context.run_id,
            )
            if image_id is None:
                outcome = str(result.verdict)
                raise DropItem(f"{outcome} of image {result.same_breed.image_id}")  # type: ignore[union-attr]
            outcome, cross = "stored", result.verdict is Verdict.CROSS_BREED
            if cross:
                self.crawler.stats.inc_value("flagged/cross_breed")
            self.crawler.stats.inc_value("stored")
            return {"breed": slug, "image_id": image_id, "url": item["candidate"].get("url")}
        except DropItem:
            self.crawler.stats.inc_value(f"refused/{outcome}")
            raise
        except Exception:
            logger.exception("storing %s failed", item["candidate"].get("url"))
            self.crawler.stats.inc_value("refused/error")
            raise DropItem("store error") from None
        finally:
            spider.image_finished(slug, outcome, cross_breed=cross)  # type: ignore[union-attr]
