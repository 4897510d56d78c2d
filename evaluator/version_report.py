"""``breedbench report MODEL:VERSION``: one page about a model version, for a release decision.

What a team needs before it ships a version: where it comes from (lineage, file, conversion),
how its latest finished run compares with its parent's and with a chosen baseline on the images
both scored (top-1/3/5 with 95 % Wilson intervals, McNemar's exact test, the images it fixed and
broke, with both models' top-3), where it fails (per-breed accuracy worst first, the most
confused pairs with an example each), how it has moved over its runs, and what it costs in size
and per-image latency against its parent.

The data (``VersionReport``) holds every fixed and broken image; a page shows the first
``max_images`` of each list and names the rest by id. The HTML page embeds those pictures as the
store's own 256 px JPEG thumbnails (``data:`` URIs), its chart is inline SVG and it loads nothing
else (no script, stylesheet, font or image from anywhere), so it opens the same offline, mailed
or archived. Markdown and JSON carry no pictures: ids and sha256 name the images. Pages are
``evaluator.version_pages``; here is the data, read from the stored runs (no model is run).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.chunks import id_chunks
from core.errors import BreedbenchError
from db.models import RunStatus
from evaluator import latency
from evaluator.compare import compare_runs
from evaluator.metrics import wilson_interval
from evaluator.registry import VersionInfo, get_version, get_version_by_id
from evaluator.report import crop_summary
from evaluator.results import (
    PredictionRow,
    RunDetail,
    breed_results,
    children,
    confusions,
    get_run,
    lineage,
    list_runs,
    predictions,
)

FORMATS = ("md", "json", "html")
MAX_IMAGES = 12  # fixed / broken pictures shown per comparison (the rest named by id)
MAX_CONFUSIONS = 10  # most confused pairs, each with one example picture
FINISHED = RunStatus.FINISHED.value

ReadFile = Callable[[str], bytes]  # store-relative path → bytes (``ImageStore.read``)


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``correct`` of ``n`` with its 95 % Wilson interval."""

    correct: int
    n: int
    rate: float
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, correct: int, n: int) -> Rate:
        lo, hi = wilson_interval(correct, n)
        return cls(correct, n, correct / n if n else 0.0, lo, hi)


@dataclass(frozen=True)
class VersionFacts:
    ref: str
    model: str
    version: str
    format: str
    size_bytes: int
    sha256: str
    quantization: str  # "-" for an original
    conversion: dict[str, Any] | None
    created_at: str
    trusted: bool
    parent: str | None


@dataclass(frozen=True)
class RunFacts:
    id: int
    ref: str
    started_at: str
    dataset_hash: str | None
    n_images: int
    topk: dict[int, Rate]  # 1, 3, 5
    macro_top1: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_how: str  # how p50/p95 were measured (steady state, batch size, warm-up apart)
    warmup_ms: float | None  # load + first batch; None for runs from before it was measured
    throughput_ips: float
    batch: int | None
    threads: int | None
    size_bytes: int
    excluded: dict[str, Any]
    # A cropped run: which detector, its crops and fallbacks, its own latency (one line).
    crop: str | None = None


@dataclass(frozen=True)
class Guess:
    slug: str
    name: str
    probability: float


@dataclass(frozen=True)
class Picture:
    """One image and what each model made of it (``reference_top3`` is empty where no other
    model is involved: a confusion example)."""

    image_id: int
    sha256: str
    true_slug: str
    true_name: str
    reference_top3: list[Guess]
    version_top3: list[Guess]


@dataclass(frozen=True)
class BreedChange:
    slug: str
    name: str
    n: int  # shared images of this breed
    reference: float  # top-1 of the reference run on them
    version: float


@dataclass(frozen=True)
class Against:
    """The version's run against a reference run (its parent's or a baseline's), on the images
    both scored. ``fixed``: wrong (top-1) in the reference, right here; ``broken``: the reverse.
    Each list is in order of interest: for ``broken`` the reference's most confident answers
    first (what the version lost that was sure), for ``fixed`` the version's."""

    role: str  # "parent" | "baseline"
    reference: VersionFacts
    reference_run: RunFacts
    shared: int
    only_reference: int  # images only the reference run scored
    only_version: int
    same_dataset: bool
    topk: dict[int, tuple[Rate, Rate]]  # k → (reference, version), on the shared images
    p_value: float  # McNemar's exact test, top-1
    fixed: list[Picture]
    broken: list[Picture]
    breed_changes: list[BreedChange]  # largest drop first

    @property
    def delta_top1(self) -> float:
        ref, ver = self.topk[1]
        return ver.rate - ref.rate


@dataclass(frozen=True)
class BreedRow:
    slug: str
    name: str
    top1: Rate
    top5: Rate
    delta_vs_parent: float | None  # top-1 change on the images shared with the parent's run


@dataclass(frozen=True)
class ConfusedPair:
    true_slug: str
    true_name: str
    predicted_slug: str
    predicted_name: str
    count: int
    share: float  # of the true breed's images in the run
    example: Picture | None  # the version's most confident such mistake


@dataclass(frozen=True)
class HistoryPoint:
    run_id: int
    started_at: str
    dataset_hash: str | None
    n_images: int
    top1: Rate
    top5: Rate


@dataclass(frozen=True)
class VersionReport:
    version: VersionFacts
    lineage: list[VersionFacts]  # oldest first, ending with the version itself
    children: list[str]
    run: RunFacts  # the version's latest finished run
    comparisons: list[Against]  # against the parent first, then the baseline
    notes: list[str]  # comparisons that could not be made, and why
    per_breed: list[BreedRow]  # worst top-1 first
    confusions: list[ConfusedPair]
    history: list[HistoryPoint]  # oldest first
    max_images: int
    # image id → ``data:`` URI of its thumbnail, for the pictures a page shows (HTML only)
    thumbnails: dict[int, str] = field(default_factory=dict)

    def shown(self, pictures: Sequence[Picture]) -> list[Picture]:
        return list(pictures[: self.max_images])


# --- building it ------------------------------------------------------------------------------


def _facts(v: VersionInfo, by_id: Callable[[int], VersionInfo]) -> VersionFacts:
    return VersionFacts(
        ref=v.ref,
        model=v.model_name,
        version=v.version,
        format=v.format,
        size_bytes=v.size_bytes,
        sha256=v.sha256,
        quantization=v.quantization_label,
        conversion=dict(v.conversion) if v.conversion else None,
        created_at=v.created_at.isoformat(),
        trusted=v.trusted,
        parent=by_id(v.parent_id).ref if v.parent_id is not None else None,
    )


def _run_facts(detail: RunDetail) -> RunFacts:
    s = detail.summary
    settings = detail.settings
    return RunFacts(
        id=s.id,
        ref=s.ref,
        started_at=s.started_at.isoformat(),
        dataset_hash=s.dataset_hash,
        n_images=s.n_images,
        topk={t.k: Rate.of(t.correct, t.n) for t in detail.topk},
        macro_top1=s.macro_top1,
        latency_p50_ms=s.latency_p50_ms,
        latency_p95_ms=s.latency_p95_ms,
        latency_how=latency.describe(detail.metrics),
        warmup_ms=latency.warmup_ms(detail.metrics),
        throughput_ips=s.throughput_ips,
        batch=settings.get("batch"),
        threads=settings.get("threads"),
        size_bytes=s.model_size_bytes,
        excluded=detail.excluded,
        crop=crop_summary(settings, detail.metrics),
    )


def _finished_runs(session: Session, version_id: int) -> list[RunDetail]:
    """The version's finished runs, newest first."""
    return [
        get_run(session, r.id)
        for r in list_runs(session, version_id=version_id)
        if r.status == FINISHED
    ]


def _reference_run(session: Session, version_id: int, dataset_hash: str | None) -> int | None:
    """The reference's newest finished run on the same images as the version's run, else its
    newest finished run (compared on the images both scored)."""
    runs = [r for r in list_runs(session, version_id=version_id) if r.status == FINISHED]
    same = [r for r in runs if dataset_hash is not None and r.dataset_hash == dataset_hash]
    chosen = (same or runs)[:1]
    return chosen[0].id if chosen else None


def _guesses(row: PredictionRow | None) -> list[Guess]:
    if row is None:
        return []
    return [Guess(g.slug, g.name, g.probability) for g in row.top5[:3]]


def _rows(session: Session, run_id: int, image_ids: Iterable[int]) -> dict[int, PredictionRow]:
    out: dict[int, PredictionRow] = {}
    for chunk in id_chunks(sorted(set(image_ids))):
        out.update((r.image_id, r) for r in predictions(session, run_id, image_ids=chunk))
    return out


def _confidence(row: PredictionRow | None) -> float:
    return row.top5[0].probability if row is not None and row.top5 else 0.0


def _against(
    session: Session,
    role: str,
    reference: VersionInfo,
    run_id: int,
    version_run: int,
    by_id: Callable[[int], VersionInfo],
) -> Against:
    c = compare_runs(session, run_id, version_run)
    changed = [x.image_id for x in (*c.fixed, *c.broken)]
    ref_rows, ver_rows = _rows(session, run_id, changed), _rows(session, version_run, changed)

    def picture(image_id: int) -> Picture:
        ref, ver = ref_rows[image_id], ver_rows[image_id]
        return Picture(
            image_id, ver.sha256, ver.true_slug, ver.true_name, _guesses(ref), _guesses(ver)
        )

    def ordered(ids: list[int], rows: dict[int, PredictionRow]) -> list[Picture]:
        return [picture(i) for i in sorted(ids, key=lambda i: (-_confidence(rows.get(i)), i))]

    return Against(
        role=role,
        reference=_facts(reference, by_id),
        reference_run=_run_facts(get_run(session, run_id)),
        shared=c.shared,
        only_reference=c.only_a,
        only_version=c.only_b,
        same_dataset=c.same_dataset,
        topk={k: (Rate.of(a, c.shared), Rate.of(b, c.shared)) for k, (a, b) in c.correct.items()},
        p_value=c.p_value,
        fixed=ordered([x.image_id for x in c.fixed], ver_rows),
        broken=ordered([x.image_id for x in c.broken], ref_rows),
        breed_changes=[BreedChange(d.slug, d.name, d.n, d.top1_a, d.top1_b) for d in c.per_breed],
    )


def _confused(session: Session, run_id: int, limit: int) -> list[ConfusedPair]:
    sizes = {b.breed_id: b.n for b in breed_results(session, run_id)}
    mistakes: dict[int, list[PredictionRow]] = {}
    out = []
    for c in confusions(session, run_id, limit=limit):
        if c.true_breed_id not in mistakes:
            rows = predictions(session, run_id, breed_id=c.true_breed_id, wrong_only=True)
            mistakes[c.true_breed_id] = sorted(rows, key=lambda r: (-_confidence(r), r.image_id))
        example = next(
            (
                r
                for r in mistakes[c.true_breed_id]
                if r.top5 and r.top5[0].breed_id == c.predicted_breed_id
            ),
            None,
        )
        out.append(
            ConfusedPair(
                c.true_slug,
                c.true_name,
                c.predicted_slug,
                c.predicted_name,
                c.count,
                c.count / sizes[c.true_breed_id] if sizes.get(c.true_breed_id) else 0.0,
                None
                if example is None
                else Picture(
                    example.image_id,
                    example.sha256,
                    example.true_slug,
                    example.true_name,
                    [],
                    _guesses(example),
                ),
            )
        )
    return out


def _thumbnails(
    session: Session, read: ReadFile, pictures: Iterable[Picture], run_id: int
) -> dict[int, str]:
    """Image id → the store's thumbnail as a ``data:`` URI; a missing file is left out (the page
    says so) rather than failing the report."""
    ids = sorted({p.image_id for p in pictures})
    paths = {r.image_id: r.thumb_path for r in _rows(session, run_id, ids).values()}
    out: dict[int, str] = {}
    for image_id in ids:
        path = paths.get(image_id)
        if not path:
            continue
        try:
            data = read(path)
        except (OSError, BreedbenchError):
            continue
        out[image_id] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return out


def _comparisons(
    session: Session,
    info: VersionInfo,
    baseline: VersionInfo | None,
    run: RunFacts,
    by_id: Callable[[int], VersionInfo],
) -> tuple[list[Against], list[str]]:
    """The run against its parent's and the baseline's, and notes on what could not be
    compared (a parent never evaluated is a note; a baseline never evaluated, an error)."""
    comparisons: list[Against] = []
    notes: list[str] = []
    references: list[tuple[str, VersionInfo]] = []
    if info.parent_id is not None:
        references.append(("parent", by_id(info.parent_id)))
    else:
        notes.append(f"{info.ref} has no parent: it is an original, not derived from a version.")
    if baseline is not None and baseline.id == info.parent_id:
        notes.append(f"The baseline {baseline.ref} is its parent: compared once, as the parent.")
    elif baseline is not None:
        references.append(("baseline", baseline))
    for role, reference in references:
        ref_run = _reference_run(session, reference.id, run.dataset_hash)
        if ref_run is not None:
            comparisons.append(_against(session, role, reference, ref_run, run.id, by_id))
        elif role == "baseline":
            raise BreedbenchError(
                f"--against {reference.ref}: it has no finished evaluation yet "
                f"(breedbench evaluate {reference.ref})"
            )
        else:
            notes.append(
                f"The parent {reference.ref} has no finished evaluation: run breedbench "
                f"evaluate {reference.ref} to compare with it."
            )
    return comparisons, notes


def _history_point(detail: RunDetail) -> HistoryPoint:
    s = detail.summary
    top = {t.k: Rate.of(t.correct, t.n) for t in detail.topk}
    return HistoryPoint(s.id, s.started_at.isoformat(), s.dataset_hash, s.n_images, top[1], top[5])


def build_report(
    session: Session,
    ref: str,
    *,
    against: str | None = None,
    read_thumbnail: ReadFile | None = None,
    max_images: int = MAX_IMAGES,
    max_confusions: int = MAX_CONFUSIONS,
) -> VersionReport:
    """The report of ``ref`` (``NAME:VERSION``, or ``NAME`` for its newest version) from its
    latest finished run. ``against`` names a baseline version; ``read_thumbnail`` (the image
    store's ``read``) embeds the thumbnails of the pictures a page shows."""
    if max_images < 0:
        raise BreedbenchError("--max-images must be 0 or more")
    info = get_version(session, ref)
    cache: dict[int, VersionInfo] = {}

    def by_id(version_id: int) -> VersionInfo:
        if version_id not in cache:
            cache[version_id] = get_version_by_id(session, version_id)
        return cache[version_id]

    runs = _finished_runs(session, info.id)
    if not runs:
        raise BreedbenchError(
            f"{info.ref} has no finished evaluation yet: run breedbench evaluate {info.ref}"
        )
    run = _run_facts(runs[0])
    baseline = None if against is None else get_version(session, against)
    if baseline is not None and baseline.id == info.id:
        raise BreedbenchError(f"--against {against}: that is {info.ref} itself")
    comparisons, notes = _comparisons(session, info, baseline, run, by_id)
    parent_changes = {
        b.slug: b.version - b.reference
        for a in comparisons
        if a.role == "parent"
        for b in a.breed_changes
    }
    per_breed = [
        BreedRow(
            b.slug, b.name, Rate.of(b.top1, b.n), Rate.of(b.top5, b.n), parent_changes.get(b.slug)
        )
        for b in breed_results(session, run.id)
    ]
    confused = _confused(session, run.id, max_confusions)
    report = VersionReport(
        version=_facts(info, by_id),
        lineage=[_facts(v, by_id) for v in lineage(session, info.id)],
        children=[v.ref for v in children(session, info.id)],
        run=run,
        comparisons=comparisons,
        notes=notes,
        per_breed=per_breed,
        confusions=confused,
        history=[_history_point(d) for d in reversed(runs)],
        max_images=max_images,
    )
    if read_thumbnail is not None:
        shown = [p for a in comparisons for p in (*report.shown(a.fixed), *report.shown(a.broken))]
        shown += [c.example for c in confused if c.example is not None]
        report.thumbnails.update(_thumbnails(session, read_thumbnail, shown, run.id))
    return report


# --- as JSON ----------------------------------------------------------------------------------


def report_json(report: VersionReport) -> dict[str, Any]:
    """Everything but the pictures: every fixed and broken image with both top-3s (ids and
    sha256 name them); rates keyed ``top1``/``top3``/``top5``."""
    data = asdict(report)
    data.pop("thumbnails")
    data["run"]["topk"] = {f"top{k}": asdict(t) for k, t in report.run.topk.items()}
    data["comparisons"] = [
        {
            **d,
            "topk": {
                f"top{k}": {"reference": asdict(x), "version": asdict(y)}
                for k, (x, y) in a.topk.items()
            },
            "delta_top1": a.delta_top1,
            "fixed_ids": [p.image_id for p in a.fixed],
            "broken_ids": [p.image_id for p in a.broken],
        }
        for d, a in zip(data["comparisons"], report.comparisons, strict=True)
    ]
    for d, a in zip(data["comparisons"], report.comparisons, strict=True):
        d["reference_run"]["topk"] = {f"top{k}": asdict(t) for k, t in a.reference_run.topk.items()}
    return data
