"""Breed lists: the classes of a test set read from a CSV instead of the Stanford 120.

A list is a CSV with a header naming its columns: ``slug`` and ``name`` are required;
``synset`` (a WordNet id), ``query`` (default: the name with ``-``/``_`` as spaces),
``ambiguous`` (yes/no: the name alone finds other things, so the query takes the keyword),
``keyword`` (the word added to such a query: ``dog`` unless the row or the list says otherwise,
``cat`` for a list of cats) and ``target`` (images wanted, default 50) are optional.

Everything is checked before anything is written, and every problem names the file and its
line: a bad list changes nothing. Slugs become folder names in exports (and in imports), so
they are strict: lower-case letters, digits, ``_`` and ``-``, starting with a letter or digit,
never a name a file system reserves. Two rows may share neither a slug, nor a synset, nor a
class name as model labels are compared (``db.breeds.match_key``): a model's labels could not
tell them apart.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.breeds import DEFAULT_TARGET, match_key
from db.models import Breed

REQUIRED = ("slug", "name")
OPTIONAL = ("synset", "query", "ambiguous", "keyword", "target")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
SYNSET = re.compile(r"n\d{8}")
KEYWORD = re.compile(r"[^\W\d_][\w-]{0,39}")
# Names Windows refuses as files or folders, with or without an extension.
RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
MAX_NAME = 120
MAX_QUERY = 200
MAX_TARGET = 100_000


@dataclass(frozen=True, slots=True)
class BreedEntry:
    """One breed as a list (or ``breeds add``) gives it, checked."""

    slug: str
    name: str
    synset: str | None = None
    query: str | None = None  # None: from the name
    ambiguous: bool | None = None  # None: the curated list of Stanford names decides
    keyword: str | None = None  # None: "dog"
    target: int = DEFAULT_TARGET

    @property
    def search_query(self) -> str:
        return self.query or re.sub(r"[-_\s]+", " ", self.name).strip()


def check_slug(slug: str, where: str = "") -> str:
    """``slug`` if it can name a folder anywhere; ``BreedbenchError`` saying why not."""
    prefix = f"{where}: " if where else ""
    shown = repr(slug[:60])
    if not slug:
        raise BreedbenchError(f"{prefix}the slug is empty")
    if not SLUG.fullmatch(slug):
        if slug.lower() != slug and SLUG.fullmatch(slug.lower()):
            why = f"has capitals (use {slug.lower()!r}: folders differ only by case on some disks)"
        elif len(slug) > 80:
            why = "is longer than 80 characters"
        else:
            why = (
                "may hold only a-z, 0-9, '_' and '-', starting with a letter or digit "
                "(no '/', '..', spaces or dots: it becomes a folder name in exports)"
            )
        raise BreedbenchError(f"{prefix}slug {shown} {why}")
    if slug in RESERVED:
        raise BreedbenchError(f"{prefix}slug {shown} is a name Windows reserves for devices")
    return slug


def check_name(name: str, where: str = "") -> str:
    prefix = f"{where}: " if where else ""
    name = name.strip()
    if not name:
        raise BreedbenchError(f"{prefix}the name is empty")
    if len(name) > MAX_NAME or not name.isprintable():
        raise BreedbenchError(
            f"{prefix}name {name[:40]!r} must be printable text of at most {MAX_NAME} characters"
        )
    if not match_key(name):
        raise BreedbenchError(f"{prefix}name {name!r} has no letters or digits")
    return name


def check_keyword(word: str, where: str = "") -> str:
    prefix = f"{where}: " if where else ""
    word = word.strip()
    if not KEYWORD.fullmatch(word):
        raise BreedbenchError(
            f"{prefix}keyword {word[:40]!r} must be one word of letters (e.g. dog, cat)"
        )
    return word.lower()


def check_target(value: str | int, where: str = "") -> int:
    prefix = f"{where}: " if where else ""
    try:
        n = int(str(value).strip())
    except ValueError:
        raise BreedbenchError(f"{prefix}target {str(value)[:20]!r} is not a number") from None
    if not 0 <= n <= MAX_TARGET:
        raise BreedbenchError(f"{prefix}target {n} must be between 0 and {MAX_TARGET}")
    return n


def _flag(value: str, where: str) -> bool | None:
    v = value.strip().lower()
    if not v:
        return None
    if v in YES:
        return True
    if v in NO:
        return False
    raise BreedbenchError(f"{where}: ambiguous {value[:20]!r} is not yes or no")


def check_entry(
    slug: str,
    name: str,
    *,
    synset: str | None = None,
    query: str | None = None,
    ambiguous: bool | None = None,
    keyword: str | None = None,
    target: int | str | None = None,
    where: str = "",
) -> BreedEntry:
    """A breed's fields, each checked (``where`` prefixes the message: the file and line)."""
    prefix = f"{where}: " if where else ""
    synset = (synset or "").strip() or None
    if synset is not None and not SYNSET.fullmatch(synset):
        raise BreedbenchError(f"{prefix}synset {synset[:20]!r} is not a WordNet id like n02085620")
    query = (query or "").strip() or None
    if query is not None and (len(query) > MAX_QUERY or not query.isprintable()):
        raise BreedbenchError(
            f"{prefix}query must be printable text of at most {MAX_QUERY} characters"
        )
    return BreedEntry(
        slug=check_slug(slug.strip(), where),
        name=check_name(name, where),
        synset=synset,
        query=query,
        ambiguous=ambiguous,
        keyword=check_keyword(keyword, where) if keyword and keyword.strip() else None,
        target=DEFAULT_TARGET if target in (None, "") else check_target(target, where),  # type: ignore[arg-type]
    )


def parse_breed_csv(
    text: str, source: str = "breeds.csv", keyword: str | None = None
) -> list[BreedEntry]:
    """Every row of a list, checked; the first problem stops with its line. ``keyword`` is the
    list's word for rows without their own."""
    default_keyword = check_keyword(keyword, source) if keyword else None
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise BreedbenchError(f"{source}: empty file (the first line names the columns: slug,name)")
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"no {' or '.join(repr(c) for c in missing)} column")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(repr(h[:30]) for h in unknown)}")
        raise BreedbenchError(
            f"{source} line 1: {'; '.join(parts)} (columns: slug,name and optionally "
            f"{','.join(OPTIONAL)})"
        )
    if len(set(header)) != len(header):
        raise BreedbenchError(f"{source} line 1: a column is named twice")
    reader.fieldnames = header
    entries: list[BreedEntry] = []
    slugs: dict[str, int] = {}
    names: dict[str, int] = {}
    synsets: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        where = f"{source} line {line}"
        if None in row:
            raise BreedbenchError(f"{where}: more values than columns")
        values = {k: (v or "") for k, v in row.items()}
        if not any(v.strip() for v in values.values()):
            continue  # a blank line
        entry = check_entry(
            values["slug"],
            values["name"],
            synset=values.get("synset"),
            query=values.get("query"),
            ambiguous=_flag(values.get("ambiguous", ""), where),
            keyword=values.get("keyword") or default_keyword,
            target=values.get("target") or None,
            where=where,
        )
        key = match_key(entry.name, entry.keyword)
        for seen, value, what in (
            (slugs, entry.slug, "slug"),
            (names, key, "name"),
            (synsets, entry.synset, "synset"),
        ):
            if value is None:
                continue
            if value in seen:
                shown = entry.name if what == "name" else value
                raise BreedbenchError(
                    f"{where}: {what} {shown!r} repeats line {seen[value]}"
                    + (" (names are compared as model labels are)" if what == "name" else "")
                )
            seen[value] = line
        entries.append(entry)
    if not entries:
        raise BreedbenchError(f"{source}: no breeds (only the header)")
    return entries


def read_breed_csv(path: Path, keyword: str | None = None) -> list[BreedEntry]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BreedbenchError(f"breed list {path} does not exist") from None
    except UnicodeDecodeError:
        raise BreedbenchError(f"breed list {path} is not UTF-8 text") from None
    except OSError as exc:
        raise BreedbenchError(f"breed list {path} cannot be read: {exc.strerror}") from None
    return parse_breed_csv(text, Path(path).name, keyword)


def check_against(session: Session, entry: BreedEntry, *, ignore_id: int | None = None) -> None:
    """Refuse an entry that clashes with a breed already stored (other than ``ignore_id``)."""
    for b in session.scalars(select(Breed)):
        if b.id == ignore_id:
            continue
        if b.slug == entry.slug:
            raise BreedbenchError(f"breed {entry.slug!r} exists already")
        if entry.synset and b.synset == entry.synset:
            raise BreedbenchError(f"synset {entry.synset} is breed {b.slug!r}'s already")
        if match_key(b.name, b.keyword) == match_key(entry.name, entry.keyword):
            raise BreedbenchError(
                f"name {entry.name!r} is the same class name as breed {b.slug!r} ({b.name!r})"
            )


def add_entries(session: Session, entries: list[BreedEntry]) -> int:
    """Insert the entries whose slug is new, after the breeds stored; returns how many.

    A slug already stored is left as it is (its query, keyword flag and target are user
    decisions); any other clash with a stored breed refuses the whole list before any write.
    """
    existing = {b.slug for b in session.scalars(select(Breed))}
    new = [e for e in entries if e.slug not in existing]
    for e in new:
        check_against(session, e)
    position = (session.scalar(select(func.max(Breed.position))) or -1) + 1
    for offset, e in enumerate(new):
        session.add(new_breed(e, position + offset))
    session.flush()
    return len(new)


def new_breed(entry: BreedEntry, position: int) -> Breed:
    return Breed(
        slug=entry.slug,
        name=entry.name,
        synset=entry.synset,
        position=position,
        query=entry.search_query,
        dog_keyword=False,
        target=entry.target,
        keyword=entry.keyword,
        ambiguous=entry.ambiguous,
    )


def is_empty(session: Session) -> bool:
    """Whether plain ``init`` seeds the Stanford 120: only into an empty table. A database with
    breeds keeps its list (a custom one, or one with breeds removed on purpose): ``breeds add``
    and ``breeds remove`` change it, never a plain ``init``."""
    return session.scalar(select(func.count()).select_from(Breed)) == 0
