"""The store pipeline: validate → hash → dedup → store, one committed row per image.

``process_item`` only adapts the item: the checks are the plain functions of
``crawler.validation`` and ``crawler.dedup``, and the store step is ``crawler.storing`` (shared
with the folder import, which must not load Scrapy). Validation, hashing and the thumbnail run in
worker processes (``crawler.workers``), which also write the image's files into the store, so
downloads go on meanwhile. The dedup check and the row are then written synchronously in the
event loop's thread: check-then-insert is never interleaved, SQLite sees a single writer, and
no thread competes with the loop for the GIL. Each image is its own transaction: a crawl stopped
at any point leaves whole rows and whole files (the store writes to a temporary name and
renames). Refusals raise ``DropItem`` with the reason and count as ``refused/<reason>`` in the
crawl stats.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import workers
from crawler.dedup import DedupIndex, Verdict
from crawler.storing import discard_unreferenced, store_valid
from db.images import ImageMeta

logger = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.min_side = s.getint("BREEDBENCH_MIN_SIDE")
        self.max_bytes = s.getint("BREEDBENCH_MAX_BYTES")
        self.max_pixels = s.getint("BREEDBENCH_MAX_PIXELS")
        self.workers = s.getint("BREEDBENCH_DECODE_WORKERS") or workers.default_workers()
        self.index: DedupIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def context(self) -> Any:
        return self.crawler.spider.context  # type: ignore[union-attr]

    def open_spider(self) -> None:
        workers.warm(self.workers)
        with self.context.db.session() as s:
            self.index = DedupIndex.load(s)

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
            checked = await loop.run_in_executor(
                workers.pool(self.workers),
                workers.check_and_prewrite,
                str(self.context.db.store.root),
                item["body"],
                self.min_side,
                self.max_bytes,
                self.max_pixels,
            )
            if isinstance(checked, tuple):
                outcome = checked[0]
                raise DropItem(f"{outcome}: {checked[1]} ({item['candidate'].url})")
            assert self.index is not None
            if self.context.stop_requested:
                outcome = "stopping"
                self.crawler.stats.inc_value("dropped/stopping")
                discard_unreferenced(
                    self.context.db, self.index, checked.facts.sha256, checked.created
                )
                raise DropItem("crawl is stopping")
            # In the loop's own thread, synchronously: a few ms, no await between the dedup
            # check and the commit, and no second thread fighting the loop for the GIL (a
            # writer thread waited ~15 ms an image for it, one wait per sqlite call).
            result, image_id = store_valid(
                self.context.db,
                self.index,
                item["body"],
                checked.facts,
                item["breed_id"],
                ImageMeta(
                    item["candidate"].provenance,
                    requested_url=item.get("requested_url"),
                    dates=item["candidate"].dates,
                ),
                self.context.run_id,
                prewritten=checked.created,
            )
            if image_id is None:
                outcome = str(result.verdict)
                raise DropItem(f"{outcome} of image {result.same_breed.image_id}")  # type: ignore[union-attr]
            outcome, cross = "stored", result.verdict is Verdict.CROSS_BREED
            if cross:
                self.crawler.stats.inc_value("flagged/cross_breed")
            self.crawler.stats.inc_value("stored")
            return {"breed": slug, "image_id": image_id, "url": item["candidate"].url}
        except DropItem:
            if outcome != "stopping":
                self.crawler.stats.inc_value(f"refused/{outcome}")
            raise
        except Exception:
            logger.exception("storing %s failed", item["candidate"].url)
            self.crawler.stats.inc_value("refused/error")
            raise DropItem("store error") from None
        finally:
            if outcome != "stopping":
                spider.image_finished(slug, outcome, cross_breed=cross)  # type: ignore[union-attr]
