"""Opening breedbench's database: one call that every command and the app go through."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.settings import Settings
from db import migrate
from db.engine import make_engine, session_scope
from db.store import FileSystemImageStore


@dataclass
class Database:
    """The engine, the image store and the settings they came from."""

    engine: Engine
    store: FileSystemImageStore
    settings: Settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as s:
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory, or say in one line why it cannot be used."""
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BreedbenchError(
            f"data directory {path} cannot be created: {exc.strerror} "
            "(set BREEDBENCH_DATA_DIR or --data-dir)"
        ) from exc
    if not path.is_dir():
        raise BreedbenchError(f"data directory {path} is not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise BreedbenchError(
            f"data directory {path} is not writable (set BREEDBENCH_DATA_DIR or --data-dir)"
        )


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    """Engine + store for ``settings``; brings an older schema up to date unless told not to."""
    prepare_data_dir(settings)
    engine = make_engine(settings.resolved_database_url())
    try:
        if upgrade:
            migrate.ensure_current(engine)
        store = FileSystemImageStore(settings.store_dir)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine=engine, store=store, settings=settings)
