"""All settings in one place.

Precedence, highest first: CLI flag > ``BREEDBENCH_*`` environment variable > default. The CLI
builds one ``Settings`` with its flags as keyword arguments (pydantic-settings gives init
arguments priority over the environment), and passes it down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILENAME).resolve()}"

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
