"""The datasheet that travels with every export: what is in the set and how it came to be.

It follows the spirit of "Datasheets for Datasets" (Gebru et al.) for the parts breedbench knows
first-hand: counts per breed against the target, where the images came from and under which
licenses, when they were uploaded and taken (``review.date_spread``), who reviewed them and
how decisions were reached, and the leak check against the
training set (``image_flags`` of kind ``leak``). Numbers are computed from the exported rows and
the review log, never typed in.

Breed names, sources, licences, reviewer names and file names come from outside: every table
cell and every value in the text goes through ``core.text.plain`` (or ``inline_code``), as on the
app's pages, so a licence ``<img src=x onerror=...>`` or a reviewer ``![](http://tracker/)``
reads as that text wherever the datasheet is rendered, with nothing to click: a bare
``http://``, ``www.`` or e-mail address carries an invisible word joiner (U+2060) that keeps a
renderer from linking it. The manifest holds the text itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from core.text import inline_code, plain
from db.models import Breed, Decision, FlagKind, ImageFlag, Review
from db.reviews import effective_reviews, vote_option
from review.date_spread import date_spread, spread_lines
from review.manifest import ManifestRow
from review.screening import screened_by

DATASHEET_NAME = "DATASHEET.md"


@dataclass(frozen=True, slots=True)
class ExportedFiles:
    """What the export wrote besides the datasheet, as its opening paragraphs tell it."""

    manifest: str = "manifest.csv"  # the manifest's file name
    image_format: str | None = None  # "portable" or "original"; None when no image was written
    converted: int = 0  # images written as PNG from another format
    metadata: str | None = None  # the Hugging Face imagefolder metadata file's name


def _files_section(files: ExportedFiles) -> list[str]:
    if files.image_format is None:
        images = (
            "No image files were written: the manifest's `file` column names each image as a "
            "`folders` export with the same `--image-format` writes it, by the sha256 of its "
            "original bytes."
        )
    elif files.image_format == "original":
        images = (
            "Each image is named by the sha256 of its original bytes and copied unchanged, in "
            "its own format (some loaders skip WebP and TIFF files)."
        )
    elif files.converted == 0:
        images = (
            "Each image is named by the sha256 of its original bytes and copied unchanged: all "
            "are JPEG or PNG, which every common loader reads."
        )
    else:
        images = (
            "Each image is named by the sha256 of its original bytes. JPEG and PNG originals are "
            f"copied unchanged; the {files.converted} image(s) in other formats (WebP, TIFF, GIF, "
            "BMP) are written as PNG without loss: the first frame, upright (EXIF orientation "
            "applied), pixels and transparency as stored (CMYK or floating-point pixels, which "
            "PNG cannot hold, as the RGB the evaluator uses). In the manifest, `sha256` is the "
            "original's and `file_sha256` the exported file's."
        )
    out = [images, ""]
    out += [
        f"{inline_code(files.manifest)} gives each image's source, query, URLs, license, "
        "creator and attribution. Keep it with the images: the licenses require attribution.",
        "",
    ]
    if files.metadata:
        out += [
            f"{inline_code(files.metadata)} holds each image's breed, source, license, creator "
            "and attribution for Hugging Face `datasets`: "
            '`load_dataset("imagefolder", data_dir=...)` reads them as columns.',
            "",
        ]
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(plain(c) for c in row) + " |" for row in rows]
    return lines


def build_datasheet(
    session: Session,
    rows: Sequence[ManifestRow],
    *,
    status: str,
    fmt: str,
    min_reviews: int | None = None,
    now: datetime | None = None,
    files: ExportedFiles | None = None,
) -> str:
    """The Markdown datasheet for the exported ``rows``."""
    now = now or datetime.now(UTC)
    ids = [r.image_id for r in rows]
    out: list[str] = ["# Datasheet: breedbench test set", ""]
    out += [
        f"Exported {now:%Y-%m-%d %H:%M} UTC as {inline_code(fmt)}, images with status "
        f"{inline_code(status)}: "
        f"**{len(rows)} images** of **{len({r.breed for r in rows})} breeds**.",
        "",
    ]
    out += _files_section(files or ExportedFiles())
    out += _breeds_section(session, rows)
    out += _sources_section(rows)
    out += spread_lines(date_spread(r.dates for r in rows))
    out += _licenses_section(rows)
    out += _review_section(session, ids, min_reviews)
    out += _screening_section(session, ids)
    out += _leak_section(session, rows)
    return "\n".join(out).rstrip() + "\n"


def _breeds_section(session: Session, rows: Sequence[ManifestRow]) -> list[str]:
    counts = Counter(r.breed for r in rows)
    breeds = session.execute(select(Breed).order_by(Breed.position, Breed.id)).scalars().all()
    table = []
    short = 0
    for b in breeds:
        n = counts.get(b.slug, 0)
        if n < b.target:
            short += 1
        table.append((b.slug, b.synset or "", n, b.target, "" if n >= b.target else b.target - n))
    out = ["## Breeds", ""]
    out.append(
        f"{len(counts)} of {len(breeds)} breeds have images; {short} are below their target."
    )
    out.append("")
    out += _table(["breed", "synset", "images", "target", "missing"], table)
    return out + [""]


def _sources_section(rows: Sequence[ManifestRow]) -> list[str]:
    counts = Counter(r.provenance.source for r in rows)
    out = ["## Sources", ""]
    out += _table(
        ["source", "images", "share"],
        [(s, n, f"{n / len(rows):.1%}") for s, n in counts.most_common()],
    )
    return out + [""]


def _licenses_section(rows: Sequence[ManifestRow]) -> list[str]:
    licences = (r.provenance for r in rows)
    counts = Counter((p.license or "unknown", p.license_version or "") for p in licences)
    unknown = sum(n for (lic, _), n in counts.items() if lic == "unknown")
    out = ["## Licenses", ""]
    out += _table(
        ["license", "version", "images"],
        [(lic, ver, n) for (lic, ver), n in counts.most_common()],
    )
    if unknown:
        out += ["", f"**{unknown} image(s) have no recorded license**: check them before sharing."]
    no_credit = sum(1 for r in rows if not (r.provenance.attribution or r.provenance.creator))
    out += ["", f"Images without creator or attribution: {no_credit}."]
    return out + [""]


def _review_section(session: Session, ids: Sequence[int], min_reviews: int | None) -> list[str]:
    by_image: dict[int, list[Review]] = defaultdict(list)
    for chunk in id_chunks(ids):
        stmt = select(Review).where(Review.image_id.in_(chunk)).order_by(Review.id)
        for r in session.scalars(stmt):
            by_image[r.image_id].append(r)
    decisions = Counter(r.decision for rs in by_image.values() for r in rs)
    per_reviewer = Counter(r.reviewer for rs in by_image.values() for r in rs)
    unreviewed = sum(1 for i in ids if i not in by_image)
    single = agreed = disagreed = relabelled = reset = 0
    for rs in by_image.values():
        live = effective_reviews(rs)
        latest: dict[str, Review] = {}
        for r in live:
            latest[r.reviewer] = r
        if len(latest) >= 2:
            if len({vote_option(r) for r in latest.values()}) == 1:  # the consensus rule's votes
                agreed += 1
            else:
                disagreed += 1
        elif len(latest) == 1:
            single += 1
        if any(r.decision == Decision.RELABEL for r in live):
            relabelled += 1
        if any(r.decision == Decision.RESET for r in rs):
            reset += 1
    out = ["## How the set was reviewed", ""]
    out.append(
        "Images are decided by named reviewers in the breedbench review app, with "
        "`breedbench decide`, or accepted in bulk by `breedbench import --accept` (an already "
        "vetted folder). Decisions are append-only; an image's status derives from them (an "
        "undo cancels a decision, a reset sends the image back to review, then the latest "
        "decision wins, or with consensus the required number of reviewers must agree)."
    )
    out.append("")
    if min_reviews is not None:
        rule = (
            "the latest decision wins"
            if min_reviews <= 1
            else f"{min_reviews} reviewers must agree (consensus)"
        )
        out += [f"Rule in force at export (`min_reviews = {min_reviews}`): {rule}.", ""]
    out += [
        f"- Reviewers: {len(per_reviewer)}",
        f"- Decisions recorded on these images: {sum(decisions.values())} ("
        + ", ".join(f"{k.value} {n}" for k, n in sorted(decisions.items(), key=lambda kv: kv[0]))
        + ")",
        f"- Decided by one reviewer: {single}",
        f"- Decided by two or more reviewers who agree: {agreed}",
        f"- Reviewers disagree (latest decisions differ): {disagreed}",
        f"- Relabelled to another breed: {relabelled}",
        f"- Sent back to review at least once: {reset}",
        f"- Without any recorded decision: {unreviewed}",
        "",
    ]
    if per_reviewer:
        out += _table(["reviewer", "decisions"], per_reviewer.most_common())
        out.append("")
    return out


def _screening_section(session: Session, ids: Sequence[int]) -> list[str]:
    """Which models screened the images before review: an evaluation of any of them (or of a
    version of their lineage) on this set is biased in their favour."""
    out = ["## Screening before review", ""]
    found = screened_by(session, ids)
    if not found:
        return out + ["No model screened these images before review.", ""]
    out.append(
        "A model screened images before review (`breedbench screen`): its scores ordered the "
        "review queue and marked images, while reviewers decided. Evaluating that model, or a "
        "version of its lineage, on this set may overstate its accuracy."
    )
    out.append("")
    out += _table(["model version", "images screened"], [(f.model, f.images) for f in found])
    return out + [""]


def _leak_section(session: Session, rows: Sequence[ManifestRow]) -> list[str]:
    by_id = {r.image_id: r for r in rows}
    flags: list[ImageFlag] = []
    for chunk in id_chunks(by_id):
        stmt = (
            select(ImageFlag)
            .where(ImageFlag.kind == FlagKind.LEAK, ImageFlag.image_id.in_(chunk))
            .order_by(ImageFlag.image_id, ImageFlag.id)
        )
        flags.extend(session.scalars(stmt))
    any_leak_check = session.scalar(
        select(ImageFlag.id).where(ImageFlag.kind == FlagKind.LEAK).limit(1)
    )
    out = ["## Leak check against the training set", ""]
    out.append(
        "A leak is a test image that near-matches (perceptual hash) an image of the model's "
        "training set: such an image measures memory, not generalisation."
    )
    out.append("")
    if not flags:
        if any_leak_check is None:
            out.append(
                "No leak flags are recorded in this database: either the leak check was not run "
                "or it found nothing. Run it against the training images before trusting the "
                "set as unseen: `breedbench leakcheck --reference TRAINING_IMAGES_DIR`."
            )
        else:
            out.append("None of the exported images is flagged as a leak.")
        return out + [""]
    open_flags = [f for f in flags if f.resolved_at is None]
    out.append(
        f"{len({f.image_id for f in flags})} exported image(s) carry {len(flags)} leak flag(s); "
        f"{len(open_flags)} unresolved."
    )
    out.append("")
    table = [
        (
            by_id[f.image_id].file,
            f.distance if f.distance is not None else "",
            f.detail or "",
            f.resolution or ("unresolved" if f.resolved_at is None else "resolved"),
        )
        for f in flags[:200]
    ]
    out += _table(["file", "distance", "training image", "resolution"], table)
    if len(flags) > 200:
        out += ["", f"... and {len(flags) - 200} more."]
    return out + [""]
