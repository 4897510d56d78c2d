"""A local look-alike of Openverse, Wikimedia Commons and Flickr, plus image hosts that misbehave.

Run as a subprocess (``python -m tests.crawler.mockserver``): it binds 127.0.0.1 port 0 and
prints its base URL on the first line of stdout; ``MockServer`` is the context manager that
starts it, reads the URL and stops it. The three APIs answer from one catalog (query → image
paths) in their documented formats, so every source is tested on the same scenarios:

* Openverse ``GET /openverse/v1/images/?q&page&page_size``: ``result_count``, ``page_count``,
  ``page_size``, ``page``, ``results[]`` with ``url``, ``foreign_landing_url``, ``license``,
  ``license_version``, ``license_url``, ``creator``, ``attribution``, ``width``, ``height``;
  ``POST /openverse/v1/auth_tokens/token/`` (client credentials → bearer token).
* Wikimedia ``GET /wikimedia/w/api.php?action=query&generator=search...``: ``formatversion=2``
  ``query.pages[]`` (unordered, with ``index``) with ``imageinfo[0]`` (``url``, ``thumburl``,
  ``descriptionurl``, ``mime``, ``width``/``height``, ``extmetadata``), ``continue`` paging.
* Flickr ``GET /flickr/services/rest/?method=flickr.photos.search``: ``photos.page``, ``pages``,
  ``perpage``, ``total``, ``photo[]`` with ``license``, ``ownername``, ``url_l``; ``stat``.

Dates as each API writes them (result ``i`` of a query was uploaded on 1 June of 2016 + i, see
``uploaded``): Openverse ``indexed_on`` (ISO 8601 ``Z``; 30 days after the upload, as it indexes
what was published before), Commons ``imageinfo.timestamp`` (with ``iiprop=timestamp``) and
``extmetadata.DateTimeOriginal`` (only the fields ``iiextmetadatafilter`` names), Flickr
``dateupload`` (unix seconds as a string) and ``datetaken`` (MySQL datetime) with
``extras=date_upload,date_taken``, and its ``min_upload_date`` filter.

Openverse also misbehaves on purpose for the queries of ``MALFORMED``: it answers some pages
with a malformed document (a number for a URL, text for ``page_count``, an object for
``results``, a page without ``results``, a result that is not an object, a body that is not
JSON), so that tests can check a crawl reads past each of them, and asks for each page once.

``GET /_log`` returns every request seen (path, time, User-Agent, Authorization);
``POST /_catalog`` (``{query: [path or URL, ...]}``) adds queries to the catalog for a test;
``GET /redirect?to=URL`` answers 302 to any URL (how a hostile image host would redirect).
``GET /img/held/GATE/N.jpg`` answers a good image only once ``POST /_release?gate=GATE`` has
been called (or after a minute): a crawl that is still running when a test looks at it.
``GET /img/paused/N.jpg`` answers at once until ``POST /_pause?after=K``; then all but the next K
wait until ``POST /_resume``: an interrupt that comes at a known point of a crawl.
``GET /img/cut/N.jpg`` declares a good image's Content-Length and closes the connection after
half of it; ``GET /img/endless/N.jpg`` streams a body of ``ENDLESS_BYTES`` without a length, and
``GET /_streamed`` says how many bytes of each such body were written before the client hung up.

``CountingServer`` is a tiny image host bound to another loopback address (``127.0.0.2``): the
address guard's tests point results and redirects at it and check that it was never reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from aiohttp import web
from PIL import Image as PILImage

from tests.factories import encode, jpeg_bytes, photo

REPO = Path(__file__).resolve().parents[2]
OPENVERSE_TOKEN = "test-token-123"
OPENVERSE_CLIENT = ("client-id", "client-secret")
FLICKR_KEY = "flickr-test-key"

ROBOTS_TXT = (
    "User-agent: *\n"
    "Disallow: /private/\n"
    "Disallow: /wikimedia/w/\n"
    "Disallow: /openverse/\n"
    "Disallow: /flickr/\n"
)

# Paths of the misbehaving suite (query "vizsla"), with what the crawl must make of them.
MISBEHAVING: dict[str, str] = {
    "/img/good/101.jpg": "stored",
    "/img/good/102.jpg": "stored",
    "/img/moved/103": "stored",  # 301 → /img/good/103.jpg
    "/img/ratelimited/104.jpg": "stored",  # 429 Retry-After: 1, then the image
    "/img/slow/105.jpg": "stored",  # answers after 0.5 s
    "/img/cmyk/106.jpg": "stored",
    "/img/rotated/107.jpg": "stored",  # EXIF orientation 6 (shown rotated 90°)
    "/img/animated/108.gif": "stored",
    "/img/good/110.jpg": "near_pair",  # same photo as /img/big/110.jpg: one of them is kept
    "/img/big/110.jpg": "near_pair",
    "/img/good/200.jpg": "stored",  # also found for weimaraner: kept and flagged
    "/img/missing.jpg": "http_404",
    "/img/truncated.jpg": "truncated",
    "/img/html.jpg": "html",
    "/img/vector.svg": "svg",
    "/img/tiny.png": "too_small",
    "/img/bomb.png": "decompression_bomb",
    "/img/empty.jpg": "empty",
    "/private/109.jpg": "robots_txt",
    "/img/hang.jpg": "timeout",
}

ENDLESS_BYTES = 64 * 1024 * 1024  # what /img/endless/ would send to a client that reads it all
ENDLESS_CHUNK = 64 * 1024

CATALOG: dict[str, list[str]] = {
    "vizsla": list(MISBEHAVING),
    "weimaraner": ["/img/good/200.jpg", "/img/good/201.jpg", "/img/good/202.jpg"],
    # Off-topic and unusable for the plain query; the dog query finds the breed.
    "dhole": ["/img/tiny.png", "/img/html.jpg"],
    "dhole dog": [f"/img/good/{n}.jpg" for n in range(300, 312)],
    "boxer": ["/img/html.jpg"],
    "boxer dog": [f"/img/good/{n}.jpg" for n in range(400, 406)],
    "saluki": [f"/img/good/{n}.jpg" for n in range(500, 510)],
    # Images that the server can pause until the test lets them go (``/_pause``, ``/_resume``).
    "ibizan hound": [f"/img/paused/{n}.jpg" for n in range(600, 615)],
    # Openverse answers 503 to this query every time; the other sources answer normally.
    "basenji": [f"/img/good/{n}.jpg" for n in range(600, 604)],
    # A result pointing at a local file: must never be read.
    "kuvasz": ["file:///etc/hostname", "/img/good/700.jpg"],
}
OPENVERSE_DOWN_FOR = "basenji"

# Openverse answers these queries with a malformed page: (shape, the pages it spoils; () = all).
# Each query has 15 good photos: 3 pages at the tests' page size of 5.
MALFORMED: dict[str, tuple[str, tuple[int, ...]]] = {
    "borzoi": ("url_number", ()),  # one result a page has "url": 12345
    "keeshond": ("result_not_object", ()),  # one result a page is a string
    "schipperke": ("page_count_text", ()),  # "page_count": "many"
    "affenpinscher": ("results_object", (2,)),  # "results": {}
    "rottweiler": ("results_missing", (2,)),  # no "results" at all
    "malamute": ("not_json", (2,)),  # an HTML error page with status 200
    "pekinese": ("results_object", ()),  # every page unreadable
}
for _i, _query in enumerate(MALFORMED):
    CATALOG[_query] = [f"/img/good/{1000 + 20 * _i + n}.jpg" for n in range(15)]


def spoil(shape: str, body: dict[str, Any]) -> dict[str, Any]:
    """The Openverse answer ``body`` with the malformation ``shape`` (see ``MALFORMED``)."""
    results = body["results"]
    if shape == "url_number" and results:
        results[1 % len(results)]["url"] = 12345
    elif shape == "result_not_object" and results:
        results[1 % len(results)] = "oops"
    elif shape == "page_count_text":
        body["page_count"] = "many"
    elif shape == "results_object":
        body["results"] = {}
    elif shape == "results_missing":
        del body["results"]
    return body


def uploaded(i: int) -> datetime:
    """When result ``i`` of any query was uploaded: 1 June of 2016 + i (so a freshness window
    of 2019-01-01 keeps results 3 and later). Captured a week before; indexed by Openverse 30
    days after."""
    return datetime(2016 + i, 6, 1, 12, 0, 0, tzinfo=UTC)


def entry_meta(path: str, i: int) -> dict[str, Any]:
    return {
        "uploaded": uploaded(i),
        "id": f"img-{abs(hash(path)) % 10**8}-{i}",
        "title": f"Photo {i} {path.rsplit('/', 1)[-1]}",
        "creator": f"Photographer {i % 3}",
        "license": ["by", "by-sa", "cc0"][i % 3],
        "license_version": ["2.0", "4.0", "1.0"][i % 3],
    }


def bench_paths(query: str, n: int) -> list[str]:
    """Bench mode (``--bench=N``): every query has ``n`` distinct photos, numbered per query."""
    base = (zlib.crc32(query.encode()) % 100_000) * 1000
    return [f"/img/bench/{base + i}.jpg" for i in range(n)]


def paths_for(query: str, bench: int) -> list[str]:
    if bench:
        return bench_paths(query, bench)
    return CATALOG.get(query, [])


# --- images -----------------------------------------------------------------------------------


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims ``width × height`` pixels (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def rotated_jpeg(seed: int) -> bytes:
    img = photo(320, 240, seed)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    return encode(img, "JPEG", quality=90, exif=exif.tobytes())


def animated_gif(seed: int) -> bytes:
    frames = [photo(200, 200, seed).convert("P"), photo(200, 200, seed + 1).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">'
SVG += b'<circle cx="200" cy="200" r="150"/></svg>'
HTML = b"<!DOCTYPE html><html><body><h1>Rate limited</h1>Please come back later.</body></html>"


# Bench image profiles (``--profile=NAME``): ``small`` is 400×300 synthetic JPEGs (~11 KiB);
# ``photos`` alternates 1024×768 and 2048×1536 with sensor-like grain, at quality 90, which puts
# them at the byte sizes of camera photos in Openverse/Wikimedia results (~0.3 and ~1.2 MB).
BENCH_PROFILES = ("small", "photos")
_GRAIN: dict[tuple[int, int], np.ndarray] = {}


def grainy_photo_jpeg(width: int, height: int, seed: int) -> bytes:
    """A distinct smooth 'photo' per seed, plus fixed grain (so it compresses like a photo)."""
    if (width, height) not in _GRAIN:
        rng = np.random.default_rng(0)
        _GRAIN[(width, height)] = rng.normal(0, 10, size=(height, width, 3)).astype(np.int16)
    base = np.asarray(photo(width, height, seed), dtype=np.int16)
    shift = (seed * 7919) % width  # the grain moves with the seed: no two photos share it
    pixels = np.clip(base + np.roll(_GRAIN[(width, height)], shift, axis=1), 0, 255)
    return encode(PILImage.fromarray(pixels.astype(np.uint8), "RGB"), "JPEG", quality=90)


class ImageFactory:
    def __init__(self, profile: str = "small") -> None:
        self.cache: dict[str, bytes] = {}
        self.profile = profile

    def bench(self, n: int) -> bytes:
        key = f"bench/{n}"
        if key not in self.cache:
            if self.profile == "photos":
                w, h = (1024, 768) if n % 2 == 0 else (2048, 1536)
                self.cache[key] = grainy_photo_jpeg(w, h, seed=n)
            else:
                self.cache[key] = jpeg_bytes(400, 300, seed=n, quality=85)
        return self.cache[key]

    def get(self, kind: str, n: int) -> bytes:
        if kind == "bench":
            return self.bench(n)
        key = f"{kind}/{n}"
        if key not in self.cache:
            self.cache[key] = {
                "good": lambda: jpeg_bytes(320, 240, seed=n),
                "big": lambda: jpeg_bytes(640, 480, seed=n, quality=75),
                "cmyk": lambda: encode(photo(320, 240, n).convert("CMYK"), "JPEG", quality=90),
                "rotated": lambda: rotated_jpeg(n),
                "animated": lambda: animated_gif(n),
            }[kind]()
        return self.cache[key]


# --- the server -------------------------------------------------------------------------------


class MockApp:
    def __init__(self, bench: int = 0, profile: str = "small") -> None:
        self.bench = bench
        self.images = ImageFactory(profile)
        self.log: list[dict[str, Any]] = []
        self.hits: dict[str, int] = {}
        self.extra: dict[str, list[str]] = {}  # queries added by POST /_catalog
        self.gates: dict[str, asyncio.Event] = {}  # /img/held/GATE/...: opened by /_release
        self.pause_gate: asyncio.Event | None = None  # /img/paused/ answers once it is set
        self.free_paused = 0  # how many /img/paused/ requests still answer at once while held
        self.streamed: dict[str, int] = {}  # /img/endless/ path → bytes written (GET /_streamed)

    def base(self, request: web.Request) -> str:
        return f"http://{request.host}"

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_"):
            self.log.append(
                {
                    "path": request.path,
                    "query": request.query_string,
                    "time": time.monotonic(),
                    "user_agent": request.headers.get("User-Agent"),
                    "authorization": request.headers.get("Authorization"),
                }
            )
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record])
        r = app.router
        r.add_get("/_log", self.get_log)
        r.add_post("/_catalog", self.add_catalog)
        r.add_post("/_release", self.release)
        r.add_get("/img/held/{gate}/{n:\\d+}.jpg", self.held)
        r.add_post("/_new_crawl", self.new_crawl)
        r.add_post("/_pause", self.pause)
        r.add_post("/_resume", self.resume)
        r.add_get("/img/paused/{n:\\d+}.jpg", self.paused)
        r.add_get("/redirect", self.redirect)
        r.add_get("/robots.txt", self.robots)
        r.add_get("/openverse/v1/images/", self.openverse)
        r.add_post("/openverse/v1/auth_tokens/token/", self.openverse_token)
        r.add_get("/wikimedia/w/api.php", self.wikimedia)
        r.add_get("/flickr/services/rest/", self.flickr)
        r.add_get("/img/moved/{n:\\d+}", self.moved)
        r.add_get("/img/ratelimited/{n:\\d+}.jpg", self.ratelimited)
        r.add_get("/img/slow/{n:\\d+}.jpg", self.slow)
        r.add_get("/img/cut/{n:\\d+}.jpg", self.cut)
        r.add_get("/img/endless/{n:\\d+}.jpg", self.endless)
        r.add_get("/_streamed", self.get_streamed)
        r.add_get("/img/{kind}/{n:\\d+}.{ext}", self.image)
        r.add_get("/img/{name}", self.special)
        r.add_get("/private/{n:\\d+}.jpg", self.private)
        return app

    async def get_log(self, request: web.Request) -> web.Response:
        return web.json_response(self.log)

    async def add_catalog(self, request: web.Request) -> web.Response:
        self.extra.update(await request.json())
        return web.json_response(sorted(self.extra))

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def release(self, request: web.Request) -> web.Response:
        self.gate(request.query["gate"]).set()
        return web.json_response(sorted(self.gates))

    async def held(self, request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):  # a test that never released: serve anyway
            await asyncio.wait_for(self.gate(request.match_info["gate"]).wait(), 60)
        return web.Response(
            body=self.images.get("good", int(request.match_info["n"])), content_type="image/jpeg"
        )

    async def new_crawl(self, request: web.Request) -> web.Response:
        """Forget the hits counted so far: the next request of each path is a first try."""
        self.hits.clear()
        return web.json_response({})

    def _pause_gate(self) -> asyncio.Event:
        if self.pause_gate is None:
            self.pause_gate = asyncio.Event()
            self.pause_gate.set()
        return self.pause_gate

    async def pause(self, request: web.Request) -> web.Response:
        self.free_paused = int(request.query.get("after", "0"))
        self._pause_gate().clear()
        return web.json_response({})

    async def resume(self, request: web.Request) -> web.Response:
        self._pause_gate().set()
        return web.json_response({})

    async def paused(self, request: web.Request) -> web.Response:
        if self.free_paused > 0:
            self.free_paused -= 1
        else:
            await self._pause_gate().wait()
        return web.Response(body=self.images.get("good", int(request.match_info["n"])))

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def robots(self, request: web.Request) -> web.Response:
        # As Commons does for page crawlers: the search APIs' paths are disallowed too. The
        # crawler obeys robots.txt for images only, so every crawl here proves the exemption.
        return web.Response(text=ROBOTS_TXT)

    # --- APIs -------------------------------------------------------------------------------

    def _entries(self, request: web.Request, query: str) -> list[dict[str, Any]]:
        base = self.base(request)
        out = []
        for i, path in enumerate(self.extra.get(query) or paths_for(query, self.bench)):
            meta = entry_meta(path, i)
            meta["url"] = path if "://" in path else base + path
            out.append(meta)
        return out

    async def openverse(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        if auth is not None and auth != f"Bearer {OPENVERSE_TOKEN}":
            return web.json_response({"detail": "Invalid token."}, status=401)
        q = request.query.get("q", "")
        if q == OPENVERSE_DOWN_FOR:
            return web.Response(
                status=503, text="Service Unavailable", headers={"Retry-After": "0"}
            )
        page = int(request.query.get("page", "1"))
        size = int(request.query.get("page_size", "20"))
        if auth is None and (size > 20 or page > 20):
            return web.json_response({"detail": "anonymous limit"}, status=401)
        entries = self._entries(request, q)
        chunk = entries[(page - 1) * size : page * size]
        shape, spoiled = MALFORMED.get(q, ("", ()))
        shape = shape if not spoiled or page in spoiled else ""
        if shape == "not_json":
            return web.Response(text=HTML.decode(), content_type="text/html")
        results = [
            {
                "id": e["id"],
                "title": e["title"],
                "indexed_on": (e["uploaded"] + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "foreign_landing_url": f"https://example.org/photo/{e['id']}",
                "url": e["url"],
                "creator": e["creator"],
                "creator_url": None,
                "license": e["license"],
                "license_version": e["license_version"],
                "license_url": f"https://creativecommons.org/licenses/{e['license']}/"
                f"{e['license_version']}/",
                "provider": "flickr",
                "source": "flickr",
                "category": "photograph",
                "filesize": None,
                "filetype": "jpg",
                "tags": [{"name": q}],
                "attribution": f'"{e["title"]}" by {e["creator"]} is licensed under CC '
                f"{e['license'].upper()} {e['license_version']}.",
                "fields_matched": ["title"],
                "mature": False,
                "height": 240,
                "width": 320,
                "thumbnail": f"{self.base(request)}/openverse/v1/images/{e['id']}/thumb/",
                "detail_url": f"{self.base(request)}/openverse/v1/images/{e['id']}/",
                "related_url": f"{self.base(request)}/openverse/v1/images/{e['id']}/related/",
                "unstable__sensitivity": [],
            }
            for e in chunk
        ]
        body = {
            "result_count": len(entries),
            "page_count": max(1, math.ceil(len(entries) / size)),
            "page_size": size,
            "page": page,
            "results": results,
            "warnings": [],
        }
        return web.json_response(spoil(shape, body) if shape else body)

    async def openverse_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != OPENVERSE_CLIENT or form.get(
            "grant_type"
        ) != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {
                "access_token": OPENVERSE_TOKEN,
                "expires_in": 43200,
                "token_type": "Bearer",
                "scope": "read write groups",
            }
        )

    async def wikimedia(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("action") != "query" or q.get("generator") != "search":
            return web.json_response({"error": {"code": "badvalue", "info": "Unrecognized value."}})
        search = q.get("gsrsearch", "").replace(" filetype:bitmap", "")
        limit = int(q.get("gsrlimit", "10"))
        offset = int(q.get("gsroffset", "0"))
        entries = self._entries(request, search)
        chunk = entries[offset : offset + limit]
        pages = []
        props = set(q.get("iiprop", "").split("|"))
        wanted = set(filter(None, q.get("iiextmetadatafilter", "").split("|")))
        for i, e in enumerate(chunk):
            name = f"File:{e['title']}.jpg"
            mime = "image/svg+xml" if e["url"].endswith(".svg") else "image/jpeg"
            info = {
                "size": 12345,
                "width": 320,
                "height": 240,
                "url": e["url"],
                "descriptionurl": f"https://commons.example.org/wiki/{name}",
                "descriptionshorturl": f"https://commons.example.org/w/index.php?curid={i}",
                "mime": mime,
                "extmetadata": {
                    "Artist": {
                        "value": f'<a href="//commons.example.org/wiki/User:P">{e["creator"]}</a>',
                        "source": "commons-desc-page",
                    },
                    "LicenseShortName": {
                        "value": f"CC {e['license'].upper()} {e['license_version']}",
                        "source": "commons-desc-page",
                        "hidden": "",
                    },
                    "License": {"value": f"cc-{e['license']}-{e['license_version']}"},
                    "LicenseUrl": {
                        "value": f"https://creativecommons.org/licenses/{e['license']}/"
                        f"{e['license_version']}"
                    },
                    "AttributionRequired": {"value": "true"},
                    "UsageTerms": {"value": "Creative Commons"},
                    "DateTimeOriginal": {
                        "value": (e["uploaded"] - timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S"),
                        "source": "commons-desc-page",
                    },
                },
            }
            if wanted:  # the API returns only the fields asked for
                info["extmetadata"] = {k: v for k, v in info["extmetadata"].items() if k in wanted}
            if "timestamp" in props:
                info = {"timestamp": e["uploaded"].strftime("%Y-%m-%dT%H:%M:%SZ"), **info}
            if q.get("iiurlwidth") and mime != "image/svg+xml":
                # A scaled copy is only made when the original is wider; ours are not.
                info["thumburl"] = e["url"]
                info["thumbwidth"] = 320
                info["thumbheight"] = 240
            pages.append(
                {
                    "pageid": 1000 + offset + i,
                    "ns": 6,
                    "title": name,
                    "index": offset + i + 1,
                    "imagerepository": "local",
                    "imageinfo": [info],
                }
            )
        pages.reverse()  # the API does not order pages; clients sort by index
        body: dict[str, Any] = {"batchcomplete": True, "query": {"pages": pages}}
        if not pages:
            body = {"batchcomplete": True}
        if offset + limit < len(entries):
            body["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
        return web.json_response(body)

    async def flickr(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("api_key") != FLICKR_KEY:
            return web.json_response(
                {"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"}
            )
        if q.get("method") != "flickr.photos.search":
            return web.json_response({"stat": "fail", "code": 112, "message": "Method not found"})
        entries = self._entries(request, q.get("text", ""))
        if q.get("min_upload_date"):
            # "Photos with an upload date greater than or equal to this value" (unix seconds or
            # a MySQL datetime).
            floor = q["min_upload_date"]
            since = (
                datetime.fromtimestamp(int(floor), UTC)
                if floor.isdigit()
                else datetime.fromisoformat(floor).replace(tzinfo=UTC)
            )
            entries = [e for e in entries if e["uploaded"] >= since]
        extras = set(q.get("extras", "").split(","))
        per_page = int(q.get("per_page", "100"))
        page = int(q.get("page", "1"))
        chunk = entries[(page - 1) * per_page : page * per_page]
        licence_ids = {"by": "4", "by-sa": "5", "cc0": "9"}
        photos = [
            {
                "id": str(5_000_000 + i),
                "owner": f"{1000 + i}@N0{i % 9}",
                "secret": "abc123",
                "server": "65535",
                "farm": 66,
                "title": e["title"],
                "ispublic": 1,
                "isfriend": 0,
                "isfamily": 0,
                "license": licence_ids[e["license"]],
                "ownername": e["creator"],
                "url_l": e["url"],
                "height_l": 240,
                "width_l": 320,
                **(
                    {"dateupload": str(int(e["uploaded"].timestamp()))}
                    if "date_upload" in extras
                    else {}
                ),
                **(
                    {
                        "datetaken": (e["uploaded"] - timedelta(days=7)).strftime(
                            "%Y-%m-%d %H:%M:%S"
                        ),
                        "datetakengranularity": 0,
                        "datetakenunknown": "0",
                    }
                    if "date_taken" in extras
                    else {}
                ),
            }
            for i, e in enumerate(chunk)
        ]
        return web.json_response(
            {
                "photos": {
                    "page": page,
                    "pages": max(1, math.ceil(len(entries) / per_page)),
                    "perpage": per_page,
                    "total": len(entries),
                    "photo": photos,
                },
                "stat": "ok",
            }
        )

    # --- images -----------------------------------------------------------------------------

    async def image(self, request: web.Request) -> web.Response:
        kind, n = request.match_info["kind"], int(request.match_info["n"])
        if kind not in ("good", "big", "cmyk", "rotated", "animated", "bench"):
            raise web.HTTPNotFound()
        ctype = "image/gif" if kind == "animated" else "image/jpeg"
        return web.Response(body=self.images.get(kind, n), content_type=ctype)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"/img/good/{request.match_info['n']}.jpg")

    async def ratelimited(self, request: web.Request) -> web.Response:
        if self.hits[request.path] % 2 == 1:  # every first try of a crawl
            return web.Response(status=429, body=HTML, headers={"Retry-After": "1"})
        return web.Response(body=self.images.get("good", int(request.match_info["n"])))

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(
            body=self.images.get("good", int(request.match_info["n"])), content_type="image/jpeg"
        )

    async def private(self, request: web.Request) -> web.Response:
        return web.Response(body=self.images.get("good", int(request.match_info["n"])))

    async def cut(self, request: web.Request) -> web.StreamResponse:
        """A good image whose connection drops half-way through its declared length."""
        data = self.images.get("good", int(request.match_info["n"]))
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.content_length = len(data)
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        await resp.drain()
        assert request.transport is not None
        request.transport.abort()
        return resp

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """A JPEG header followed by ``ENDLESS_BYTES`` of filler, chunked (no length declared):
        only a client that stops reading ends it early."""
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        written = 0
        chunk = jpeg_bytes(seed=903)[:2] + b"\0" * (ENDLESS_CHUNK - 2)
        try:
            while written < ENDLESS_BYTES:
                await resp.write(chunk)
                written += len(chunk)
                self.streamed[request.path] = written
                chunk = b"\0" * ENDLESS_CHUNK
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    async def get_streamed(self, request: web.Request) -> web.Response:
        return web.json_response(self.streamed)

    async def special(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        jpeg = "image/jpeg"
        if name == "missing.jpg":
            raise web.HTTPNotFound()
        if name == "truncated.jpg":
            data = jpeg_bytes(320, 240, seed=900)
            return web.Response(body=data[: len(data) // 2], content_type=jpeg)
        if name == "html.jpg":
            return web.Response(body=HTML, content_type=jpeg)
        if name == "vector.svg":
            return web.Response(body=SVG, content_type="image/svg+xml")
        if name == "tiny.png":
            return web.Response(body=encode(photo(1, 1, 901), "PNG"), content_type="image/png")
        if name == "bomb.png":
            return web.Response(body=png_bomb(), content_type="image/png")
        if name == "empty.jpg":
            return web.Response(body=b"", content_type=jpeg)
        if name == "hang.jpg":
            await asyncio.sleep(5)
            return web.Response(body=jpeg_bytes(seed=902), content_type=jpeg)
        raise web.HTTPNotFound()


def serve(bench: int = 0, port: int = 0, prewarm: bool = False, profile: str = "small") -> None:
    mock = MockApp(bench=bench, profile=profile)

    async def main() -> None:
        runner = web.AppRunner(mock.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"http://127.0.0.1:{bound}", flush=True)
        await asyncio.Event().wait()

    if prewarm and bench:
        from db.breeds import stanford_breeds

        for seed in stanford_breeds():
            for path in bench_paths(f"{seed.query} dog", bench) + bench_paths(seed.query, bench):
                mock.images.bench(int(path.rsplit("/", 1)[1].split(".")[0]))
        print(f"prewarmed {len(mock.images.cache)}", file=sys.stderr, flush=True)
    asyncio.run(main())


class MockServer:
    """Starts the server in a subprocess on a free port; ``url`` is its base URL."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> MockServer:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crawler.mockserver", *self.args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"mock server did not start: {line!r}")
        self.url = line
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def log(self) -> list[dict[str, Any]]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_log") as fh:
            return json.loads(fh.read())

    def streamed(self) -> dict[str, int]:
        """Bytes written of each ``/img/endless/`` body before the client stopped reading."""
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_streamed") as fh:
            return json.loads(fh.read())

    def openverse_pages(self, query: str, start: int = 0) -> Counter[int]:
        """How many times each Openverse page of ``query`` was asked since log position
        ``start``."""
        asked: Counter[int] = Counter()
        for e in self.log()[start:]:
            params = parse_qs(e["query"])
            if e["path"] == "/openverse/v1/images/" and params.get("q") == [query]:
                asked[int(params.get("page", ["1"])[0])] += 1
        return asked

    def release(self, gate: str) -> None:
        """Let the held images of ``gate`` (``/img/held/GATE/N.jpg``) be served."""
        import urllib.request

        post = urllib.request.Request(f"{self.url}/_release?gate={gate}", data=b"", method="POST")
        with urllib.request.urlopen(post) as fh:
            fh.read()

    def new_crawl(self) -> None:
        """A crawl starts: each path's next request is its first try (the rate-limited image
        answers 429 once per crawl, whatever crawled it before)."""
        import urllib.request

        post = urllib.request.Request(f"{self.url}/_new_crawl", data=b"", method="POST")
        with urllib.request.urlopen(post) as fh:
            fh.read()

    def _post(self, path: str) -> None:
        import urllib.request

        with urllib.request.urlopen(urllib.request.Request(f"{self.url}{path}", data=b"")) as fh:
            fh.read()

    def pause(self, after: int = 0) -> None:
        """From now on ``/img/paused/`` images but the next ``after`` wait (the request stays
        open) until ``resume``."""
        self._post(f"/_pause?after={after}")

    def resume(self) -> None:
        self._post("/_resume")

    def add_catalog(self, entries: dict[str, list[str]]) -> None:
        """Make the APIs answer these queries with these paths (or full URLs)."""
        import urllib.request

        body = json.dumps(entries).encode()
        post = urllib.request.Request(f"{self.url}/_catalog", data=body, method="POST")
        post.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(post) as fh:
            fh.read()


class CountingServer:
    """An image host on another loopback address that records every request it gets.

    Any path answers a distinct JPEG, but ``/robots.txt``, which redirects to
    ``robots_redirect`` when given (404 otherwise). Runs in a thread of the test process.
    """

    def __init__(self, host: str, robots_redirect: str | None = None) -> None:
        self.host = host
        self.robots_redirect = robots_redirect
        self.hits: list[str] = []
        self.url = ""
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> CountingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                owner.hits.append(self.path)
                if self.path == "/robots.txt":
                    if owner.robots_redirect:
                        self.send_response(302)
                        self.send_header("Location", owner.robots_redirect)
                    else:
                        self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = jpeg_bytes(320, 240, seed=zlib.crc32(self.path.encode()) % 10_000)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self.url = f"http://{self.host}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _args(argv: list[str]) -> dict[str, Any]:
    opts = parse_qs("&".join(a.lstrip("-") for a in argv))
    return {
        "bench": int(opts.get("bench", ["0"])[0]),
        "port": int(opts.get("port", ["0"])[0]),
        "prewarm": "prewarm" in "".join(argv),
        "profile": opts.get("profile", ["small"])[0],
    }


if __name__ == "__main__":
    serve(**_args(sys.argv[1:]))
