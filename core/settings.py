"""All settings in one place.

Precedence, highest first: CLI flag > ``BREEDBENCH_*`` environment variable > default. The CLI
builds one ``Settings`` with its flags as keyword arguments (pydantic-settings gives init
arguments priority over the environment), and passes it down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.urls import mask_url

DEFAULT_DATA_DIR = Path("breedbench-data")
DATABASE_FILENAME = "breedbench.db"


class Settings(BaseSettings):
    """breedbench's settings; each field is ``BREEDBENCH_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BREEDBENCH_", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Folder holding the image store, the default SQLite database and model files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: the SQLite file "
        "breedbench.db in the data directory. PostgreSQL: postgresql+psycopg://user:pw@host/db",
    )

    # --- crawler (crawler/settings.py turns these into BREEDBENCH_* Scrapy settings) ---
    contact: str | None = Field(
        default=None,
        description="Contact (e-mail or URL) sent in the crawler's User-Agent, as Wikimedia's "
        "and Openverse's API policies ask; set it before crawling the real APIs.",
    )
    openverse_url: str = Field(
        default="https://api.openverse.org/v1",
        description="Base URL of the Openverse API (the crawler calls <url>/images/).",
    )
    openverse_client_id: str | None = Field(
        default=None,
        description="Openverse client id (from /v1/auth_tokens/register/); with the secret it "
        "gets a bearer token and higher rate limits. Anonymous when unset.",
    )
    openverse_client_secret: str | None = Field(
        default=None, description="Openverse client secret (with BREEDBENCH_OPENVERSE_CLIENT_ID)."
    )
    wikimedia_url: str = Field(
        default="https://commons.wikimedia.org/w/api.php",
        description="Wikimedia Commons action API endpoint.",
    )
    flickr_url: str = Field(
        default="https://api.flickr.com/services/rest/",
        description="Flickr REST endpoint (flickr.photos.search).",
    )
    flickr_api_key: str | None = Field(
        default=None,
        description="Flickr API key; the flickr source turns itself off without it.",
    )
    crawl_sources: str = Field(
        default="openverse,wikimedia",
        description="Sources a crawl uses when --source is not given, comma-separated "
        "(openverse, wikimedia, flickr).",
    )
    crawl_dog_keyword: str = Field(
        default="auto",
        description="The 'dog' keyword fallback: auto (ambiguous names, too few results, or a "
        "reviewer flag), always, or never.",
    )
    crawl_min_side: int = Field(
        default=128, ge=1, description="Images whose short side is below this (px) are refused."
    )
    crawl_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Images larger than this (bytes) are refused."
    )
    crawl_max_pixels: int = Field(
        default=64_000_000,
        ge=1,
        description="Images with more pixels than this are refused before decoding "
        "(decompression bombs).",
    )
    crawl_max_pages: int = Field(
        default=20,
        ge=1,
        description="Result pages read per source and query (Openverse allows 20 anonymously).",
    )
    crawl_max_requests_per_source: int = Field(
        default=2000,
        ge=1,
        description="Search requests (result pages) a crawl may send to one source, whatever "
        "happens; reaching it stops that source for the crawl, and the crawl says so.",
    )
    crawl_max_bad_pages: int = Field(
        default=3,
        ge=1,
        description="Unreadable result pages in a row (malformed answers) after which a source "
        "stops searching for that breed.",
    )
    crawl_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before a single download is abandoned."
    )
    crawl_concurrency_per_domain: int = Field(
        default=4, ge=1, description="Parallel requests per host (AutoThrottle adjusts delays)."
    )
    crawl_retry_after_max: float = Field(
        default=120.0,
        ge=0,
        description="Longest Retry-After (seconds) the crawler waits on 429/503 before giving "
        "that request up.",
    )
    crawl_allow_hosts: str = Field(
        default="",
        description="Hosts the crawler may fetch images from although they are not public "
        "addresses (a local look-alike, a private mirror), comma-separated host names, IP "
        "addresses or CIDR ranges. Every other loopback, private, link-local or reserved address "
        "is refused, on every redirect hop; the configured API URLs are always trusted.",
    )

    min_reviews: int = Field(
        default=1,
        ge=1,
        description="Review consensus: an image is accepted (or rejected) only when this many "
        "reviewers agree and they are a majority of its votes; 1 = the latest decision wins.",
    )
    review_image_side: int = Field(
        default=1024,
        ge=256,
        le=4096,
        description="Longest side in pixels of the resized copy the review app shows "
        "(cached in the store; the original is never sent to the browser).",
    )

    # --- evaluation (breedbench evaluate) ---
    eval_threads: int | None = Field(
        default=None,
        ge=1,
        description="Inference threads of `evaluate` when --threads and the spec's "
        "runtime.threads are not given; default: all cores.",
    )
    eval_batch: int = Field(
        default=32,
        ge=1,
        description="Largest batch `evaluate` feeds a model that accepts batches "
        "(when --batch and the spec's runtime.batch are not given).",
    )
    eval_cache: bool = Field(
        default=True,
        description="Cache preprocessed model inputs under <data dir>/cache/inputs, so a second "
        "model with the same resize skips decoding.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI (http://host:5000, sqlite:///mlflow.db, databricks); "
        "when set, `evaluate` logs each finished run there (needs the mlflow extra). "
        "`evaluate --mlflow URI` sets it for one run.",
    )

    # --- compression (breedbench convert) ---
    calibration_images: int = Field(
        default=200,
        ge=1,
        description="Accepted images (stratified by breed) that calibrate a full-integer "
        "conversion when `convert --calibration` is not given.",
    )

    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILENAME).resolve()}"

    def display_database_url(self) -> str:
        """The database URL in force as it may be printed: any password shown as ``***``."""
        return mask_url(self.resolved_database_url())

    @property
    def store_dir(self) -> Path:
        """Where image bytes and thumbnails live."""
        return self.data_dir / "store"

    @property
    def models_dir(self) -> Path:
        """Where registered model files are copied, by content hash."""
        return self.data_dir / "models"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with CLI flags (non-None overrides) on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)
