"""Crawl benchmark: 120 breeds × 50 images from the local look-alike server.

Measures, in one run and one process:

1. a bare Scrapy crawl that downloads exactly the image URLs our crawl will store and does
   nothing with them (same settings, same reactorless downloader), run before and after ours
   (the mean is used: a shared machine's load drifts), and
2. ``breedbench``'s crawl of the same breeds (Openverse look-alike, 20 results a page): search
   pages, validation, hashing, dedup, store, thumbnails, one committed row per image;

and prints stored images per second for both, their ratio (goal ≥ 0.8), and the crawl's
resident memory at each quarter of the images (flat means it does not grow with the count).

    .venv/bin/python bench/crawl.py [--per-breed 50] [--breeds 120] [--profile small|photos]

``--profile small`` (default) serves 400×300 synthetic JPEGs (~11 KiB); ``--profile photos``
alternates 1024×768 and 2048×1536 JPEGs at camera-photo byte sizes (~0.3 and ~1.2 MB), like
typical Openverse/Wikimedia results. It also prints the CPU time per stored image of each process
(crawl, decode workers, look-alike server), which shows where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import describe  # noqa: E402 - bench/ is on sys.path
from scrapy import Request, Spider  # noqa: E402
from scrapy.crawler import AsyncCrawlerRunner  # noqa: E402

from core.settings import Settings  # noqa: E402
from crawler import workers  # noqa: E402
from crawler.jobs import BreedJob  # noqa: E402
from crawler.queries import DogKeywordMode, choose_query  # noqa: E402
from crawler.runner import CrawlControl, CrawlOptions, run_crawl  # noqa: E402
from crawler.settings import POLITENESS  # noqa: E402
from db.breeds import stanford_breeds  # noqa: E402
from db.database import open_database  # noqa: E402
from db.seed import seed_breeds  # noqa: E402
from tests.crawler.mockserver import BENCH_PROFILES, MockServer, bench_paths  # noqa: E402

# Identical downloader settings for both runs: no AutoThrottle delay against a local server.
SHARED = {
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "ROBOTSTXT_OBEY": True,
    "LOG_LEVEL": "ERROR",
    "TWISTED_REACTOR_ENABLED": False,
}


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            pages = int(fh.read().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids() -> list[int]:
    return list(getattr(workers._pool, "_processes", None) or {})


def workers_rss_mb() -> float:
    """Resident memory of the decode worker processes together."""
    return sum(rss_mb(pid) for pid in worker_pids())


class BareSpider(Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kw: object) -> None:
        super().__init__(**kw)
        self.urls = urls
        self.count = 0
        self.bytes = 0

    async def start(self):  # type: ignore[no-untyped-def]
        for url in self.urls:
            yield Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):  # type: ignore[no-untyped-def]
        self.count += 1
        self.bytes += len(response.body)
        return None


async def bare_crawl(urls: list[str]) -> tuple[int, int]:
    settings = {**SHARED, "TELNETCONSOLE_ENABLED": False, "USER_AGENT": "bench"}
    runner = AsyncCrawlerRunner(settings)
    crawler = runner.create_crawler(BareSpider)
    await runner.crawl(crawler, urls=urls)
    spider = crawler.spider
    return spider.count, spider.bytes  # type: ignore[union-attr]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-breed", type=int, default=50)
    ap.add_argument("--breeds", type=int, default=120)
    ap.add_argument("--profile", choices=BENCH_PROFILES, default="small")
    ap.add_argument("--workers", type=int, default=0, help="decode worker processes (0: default)")
    args = ap.parse_args()
    breeds = stanford_breeds()[: args.breeds]
    print(f"machine: {describe()}")
    print(f"profile: {args.profile}; load average before: {os.getloadavg()}")
    with (
        MockServer(f"--bench={args.per_breed}", f"--profile={args.profile}") as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        db = open_database(Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/b.db"))
        with db.session() as s:
            seed_breeds(s)
        queries = [choose_query(b.slug, b.query, mode=DogKeywordMode.AUTO).query for b in breeds]
        urls = [f"{server.url}{p}" for q in queries for p in bench_paths(q, args.per_breed)]
        # Warm the server's image cache so neither run pays for generating images.
        asyncio.run(bare_crawl(urls))

        t = time.perf_counter()
        n_bare, bytes_bare = asyncio.run(bare_crawl(urls))
        bare_s = time.perf_counter() - t
        rss_after_bare = rss_mb()
        print(f"bare Scrapy download (before): {n_bare / bare_s:.0f} images/s", flush=True)

        total = len(urls)
        marks = {total * q // 4: q for q in (1, 2, 3, 4)}
        samples: dict[int, tuple[float, float]] = {}
        stored = 0
        control = CrawlControl()

        def progress(job: BreedJob) -> None:
            nonlocal stored
            assert control.context is not None
            now = sum(j.stored for j in control.context.jobs.values())
            if now != stored:
                stored = now
                if now in marks:
                    samples[marks[now]] = (rss_mb(), workers_rss_mb())

        options = CrawlOptions(
            breeds=[b.slug for b in breeds],
            per_breed=args.per_breed,
            sources=["openverse"],
            dog_keyword="auto",
            scrapy_overrides={
                **SHARED,
                "BREEDBENCH_OPENVERSE_URL": f"{server.url}/openverse/v1",
                "BREEDBENCH_ALLOW_HOSTS": "127.0.0.1",  # the look-alike is on loopback
                "DOWNLOAD_TIMEOUT": 30,
                "ITEM_PIPELINES": POLITENESS["ITEM_PIPELINES"],
                "BREEDBENCH_DECODE_WORKERS": args.workers,
            },
        )
        n_workers = args.workers or workers.default_workers()
        print(f"decode workers: {n_workers}")
        workers.warm(n_workers)
        server_pid = server.proc.pid  # type: ignore[union-attr]
        cpu0 = (cpu_s(), cpu_s(server_pid), {p: cpu_s(p) for p in worker_pids()})
        t = time.perf_counter()
        report = run_crawl(db, options, on_progress=progress, control=control)
        ours_s = time.perf_counter() - t
        cpu_main = cpu_s() - cpu0[0]
        cpu_server = cpu_s(server_pid) - cpu0[1]
        cpu_workers = sum(cpu_s(p) - cpu0[2].get(p, 0.0) for p in worker_pids())
        n_ours = sum(j.stored for j in report.jobs)
        db.dispose()
        # The bare run again, after ours: the machine's load drifts, the mean is fairer.
        t = time.perf_counter()
        n_bare2, _ = asyncio.run(bare_crawl(urls))
        bare2_s = time.perf_counter() - t
        print(f"bare Scrapy download (after):  {n_bare2 / bare2_s:.0f} images/s")
        n_bare, bare_s = n_bare + n_bare2, bare_s + bare2_s

    bare_rate = n_bare / bare_s
    ours_rate = n_ours / ours_s
    print(f"images: {total} URLs ({bytes_bare / (n_bare / 2) / 1024:.1f} KiB each on average)")
    print(f"bare Scrapy download: {n_bare} in {bare_s:.2f} s = {bare_rate:.0f} images/s (mean)")
    print(f"breedbench crawl:     {n_ours} stored in {ours_s:.2f} s = {ours_rate:.0f} images/s")
    print(f"ratio: {ours_rate / bare_rate:.2f} (goal >= 0.80)")
    print(
        f"CPU per stored image: crawl process {cpu_main / n_ours * 1000:.1f} ms, "
        f"workers {cpu_workers / n_ours * 1000:.1f} ms, server {cpu_server / n_ours * 1000:.1f} ms"
    )
    print(f"load average after: {os.getloadavg()}")
    quarters = ", ".join(
        f"{q}/4: {samples[q][0]:.0f} MB + workers {samples[q][1]:.0f} MB" for q in sorted(samples)
    )
    print(f"RSS after bare run: {rss_after_bare:.0f} MB; during crawl at {quarters}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
