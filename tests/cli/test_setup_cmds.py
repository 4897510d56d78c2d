"""``init``, ``breeds``, ``status``, ``db`` and their one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cli.helpers import invoke


def run(*args: str) -> tuple[int, str]:
    return invoke(*args)


def test_init_is_idempotent_and_breeds_lists_120(tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path / "d")]
    code, out = run(*base, "init")
    assert code == 0 and "120 breeds, 120 added" in out
    code, out = run(*base, "init")
    assert code == 0 and "0 added" in out
    code, out = run(*base, "breeds")
    assert code == 0 and "120 breeds" in out
    assert "german_short-haired_pointer" in out and "n02100236" in out
    code, out = run(*base, "status")
    assert code == 0 and "6000 targeted" in out


def test_db_commands(tmp_path: Path) -> None:
    base = ["--db", str(tmp_path / "x.db"), "--data-dir", str(tmp_path / "d")]
    code, out = run(*base, "db", "current")
    assert code == 0 and "database: empty" in out and "needs upgrade" in out
    code, out = run(*base, "db", "upgrade")
    assert code == 0
    code, out = run(*base, "db", "current")
    assert "up to date" in out
    code, out = run(*base, "db", "downgrade", "base")
    assert code == 0 and "base (empty)" in out


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breedbench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "nosuchdb://x"], "only SQLite and PostgreSQL are supported"),
        (["--db", "postgresql+psycopg://u:p@127.0.0.1:9/x"], "cannot open the database"),
        (["--db", "sqlite:////no/such/folder/x.db"], "database folder /no/such/folder"),
    ],
)
def test_bad_database_url_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _cli(*args, "--data-dir", str(tmp_path / "d"), "status")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = _cli("--data-dir", str(blocker / "sub"), "status")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: data directory") and proc.stderr.count("\n") == 1


def test_newer_schema_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert _cli("--db", str(db), "--data-dir", str(tmp_path / "d"), "init").returncode == 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    engine.dispose()
    proc = _cli("--db", str(db), "--data-dir", str(tmp_path / "d"), "breeds")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "newer than this breedbench" in proc.stderr


def test_environment_settings_reach_the_cli(tmp_path: Path) -> None:
    proc = _cli("init", env={"BREEDBENCH_DATA_DIR": str(tmp_path / "envdir")})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "envdir" / "breedbench.db").exists()


def test_breeds_shows_the_query_used_and_the_next_one(tmp_path: Path) -> None:
    from core.settings import Settings
    from db.database import open_database
    from db.images import ImageMeta, add_image
    from db.provenance import Provenance
    from db.queries import breed_by_slug
    from tests.factories import jpeg_bytes

    base = ["--data-dir", str(tmp_path / "d")]
    assert run(*base, "init")[0] == 0
    db = open_database(Settings(data_dir=tmp_path / "d"))
    with db.session() as s:
        vizsla = breed_by_slug(s, "vizsla")
        assert vizsla is not None
        add_image(
            s, db.store, jpeg_bytes(seed=1), vizsla.id, ImageMeta(Provenance("test", "vizsla dog"))
        )
    db.dispose()
    code, out = invoke(*base, "breeds", "--breed", "vizsla", "--breed", "boxer", width=200)
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines() if "│ " in line}
    assert "vizsla dog" in lines["vizsla"] and "│ vizsla     │" in lines["vizsla"]
    assert "boxer dog" in lines["boxer"]  # ambiguous name: the dog keyword is planned
    code, out = run(*base, "breeds", "--breed", "boxr")
    assert code == 1 and "unknown breed slug(s): boxr" in out


def test_cli_start_imports_no_heavy_library() -> None:
    """Every command pays the CLI's import time: stages load their libraries when they run."""
    code = (
        "import sys, breedbench.cli; "
        "print(sorted(m for m in ('tensorflow', 'scrapy', 'streamlit', 'ai_edge_litert', "
        "'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# Nothing listens on port 1 of the loopback: the connection is refused at once.
SECRET_URL = "postgresql+psycopg://u:s3cret-pw@127.0.0.1:1/x"


@pytest.mark.parametrize("command", ["init", "status", "breeds", "fsck"])
def test_a_password_is_masked_when_the_database_cannot_be_reached(
    tmp_path: Path, command: str
) -> None:
    code, out = run("--db", SECRET_URL, "--data-dir", str(tmp_path / "d"), command)
    assert code == 1
    assert "s3cret" not in out
    assert out.startswith(
        "Error: cannot open the database postgresql+psycopg://u:***@127.0.0.1:1/x"
    )
    assert out.count("\n") == 1


def test_a_password_is_masked_in_an_unparsable_url(tmp_path: Path) -> None:
    code, out = run("--db", "postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/x", "status")
    assert code == 1 and "is not valid" in out and "s3cret" not in out and "u:***@" in out


def test_init_and_status_show_the_url_without_its_password(
    postgres_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import make_url

    url = make_url(postgres_url)
    assert url.password, "the test server's URL carries a password"
    for command in ("init", "status"):
        code, out = invoke("--db", postgres_url, "--data-dir", str(tmp_path), command, width=300)
        assert code == 0, out
        assert f"{url.username}:***@{url.host}" in out
        assert f":{url.password}@" not in out


def test_downgrade_minus_one_as_the_readme_prints_it(tmp_path: Path) -> None:
    from db import migrate

    base = ["--db", str(tmp_path / "x.db"), "--data-dir", str(tmp_path / "d")]
    assert run(*base, "init")[0] == 0
    code, out = run(*base, "db", "downgrade", "-1")
    assert code == 0, out
    assert "schema at " in out and migrate.head_revision() not in out
    code, out = run(*base, "db", "current")
    assert "needs upgrade" in out
    code, out = run(*base, "db", "downgrade", "--", "-1")  # the POSIX way works too
    assert code == 0, out


@pytest.mark.parametrize("revision", ["-x", "--force", "-1x"])
def test_downgrade_refuses_an_unknown_option(tmp_path: Path, revision: str) -> None:
    code, out = run("--db", str(tmp_path / "x.db"), "db", "downgrade", revision)
    assert code == 2 and "is not a revision" in out
    assert not (tmp_path / "x.db").exists()  # refused before the database was opened


def test_downgrade_past_the_first_revision_is_one_line(tmp_path: Path) -> None:
    base = ["--db", str(tmp_path / "x.db"), "--data-dir", str(tmp_path / "d")]
    code, out = run(*base, "db", "downgrade", "-1")  # an empty database: nothing to undo
    assert (
        code == 1 and out.startswith("Error: database migration failed") and "Traceback" not in out
    )
