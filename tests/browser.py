"""Driving the app in a real Chromium: start ``breedbench review``, open a page, wait, find the
image.

Shared by the browser tests of the review and dashboard pages and by ``bench/review.py``;
Debian's ``chromium`` is used as is (no browser download). In CI (``CI`` set) a missing
browser is a failure, not a skip: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IMAGE = ".st-key-review-image img"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None (always None in CI, so they fail loudly)."""
    if os.environ.get("CI"):
        return None
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def review_server(
    data_dir: Path,
    database_url: str,
    *,
    min_reviews: int = 1,
    log: Path | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """``breedbench review`` on a free port; yields its base URL, stops it afterwards.

    The server starts in an empty home and working directory, with no secrets and no other
    ``STREAMLIT_*`` settings: a developer's own ``.streamlit/secrets.toml`` (a sign-in, say) would
    change what the browser sees.
    """
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "breedbench", "--data-dir", str(Path(data_dir).resolve()),
        "--db", database_url, "review", "--port", str(port), "--min-reviews", str(min_reviews),
    ]  # fmt: skip
    empty = tempfile.TemporaryDirectory(prefix="bb-review-")  # noqa: SIM115 - cleaned up below
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["HOME"] = empty.name
    env["STREAMLIT_SECRETS_FILES"] = str(Path(empty.name) / "secrets.toml")  # none there
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=empty.name, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"breedbench review exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("breedbench review did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
        empty.cleanup()


@contextmanager
def chromium_page(request: Any = None, *, width: int = 1440, height: int = 1100) -> Iterator[Any]:
    """A page in headless Chromium (Playwright is imported only here: the bench may lack it).

    Given the pytest ``request`` of a fixture, a full-page screenshot lands in
    ``test-artifacts/<test>.png`` when the test failed (a test's own ``with`` ends before its
    outcome is known: it takes its screenshots itself).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            if request is not None:
                node = request.node
                report = getattr(node, "rep_call", None)
                if report is None or report.failed:
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"{node.name}.png"), full_page=True)
            browser.close()


def shown_image_src(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator(IMAGE).first.get_attribute("src") or ""


def wait_for_next_image(page, previous_src: str, timeout_ms: float = 15_000) -> str:  # type: ignore[no-untyped-def]
    """Wait until another image is in place *and* decoded; returns its src."""
    page.wait_for_function(
        """([sel, prev]) => {
            const img = document.querySelector(sel);
            return img && img.getAttribute('src') !== prev && img.complete
                && img.naturalWidth > 0;
        }""",
        arg=[IMAGE, previous_src],
        timeout=timeout_ms,
    )
    return shown_image_src(page)


def shown_image_id(page) -> int:  # type: ignore[no-untyped-def]
    """The id in the picture's own caption ("#12"): it arrives with the picture itself, unlike
    the text beside it, which may still show the previous image for a moment."""
    text = page.locator(".st-key-review-image").first.inner_text()
    return int(text.strip().split("#")[-1].split()[0])


def queue_state(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the queue component holds in the browser: unsent decisions, the image shown, the
    window's image ids (as the server last sent it) and those of them not decided here yet."""
    return page.evaluate(
        """() => {
            const q = window.__breedbenchQueue;
            return {outbox: q.outbox.length, shown: q.current ? q.current.id : null,
                    window: q.cards.map(c => c.id), offline: q.offline,
                    held: q.cards.filter(c => !q.decided.has(c.id)).map(c => c.id)};
        }"""
    )


def wait_until_saved(page, timeout_ms: float = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the server has acknowledged every decision the queue sent."""
    page.wait_for_function(
        "() => window.__breedbenchQueue && window.__breedbenchQueue.outbox.length === 0",
        timeout=timeout_ms,
    )
