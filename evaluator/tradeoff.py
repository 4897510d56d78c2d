"""The trade-off of a model's versions: what each one costs in accuracy for what it saves.

One row per version — format, quantization (read from the ``.tflite`` itself:
``evaluator.quantization``), size (and its ratio to the parent), steady-state latency p50,
top-1/3/5 with 95 % intervals from the version's latest finished evaluation, and its top-1
agreement with its parent on the images both latest runs share (from the stored predictions, so
no model is run). This is the table the original study assembled by hand, plus a plot of top-1
against size and against latency (PNG and SVG, matplotlib's Agg canvas: no display needed).

A version whose images were also classified cropped by a detector (``evaluate --crop``) gets a
second row, ``VERSION + DETECTOR``, from its latest cropped run: what the pair costs, the
detector's file size and per-image latency added to the classifier's. The version's own row
comes from its latest uncropped run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import EvalRun, Prediction, RunStatus
from evaluator.registry import VersionInfo, list_versions


@dataclass(frozen=True)
class Rate:
    rate: float
    lo: float
    hi: float


@dataclass(frozen=True)
class TradeoffRow:
    version: VersionInfo
    parent: str | None  # NAME:VERSION of the parent, if converted
    quantization: str  # e.g. "int8 (uint8 I/O)", "dynamic range"; "-" when not a .tflite
    size_bytes: int
    size_ratio: float | None  # size / parent size
    run_id: int | None  # latest finished evaluation, None: never evaluated
    n_images: int | None
    dataset_hash: str | None
    latency_p50_ms: float | None
    top: dict[int, Rate]  # 1, 3, 5
    parity_agreement: float | None  # top-1 agreement with the parent on shared images
    parity_images: int | None
    calibration_overlap: int | None  # calibration images in the run (kept or excluded)
    crop: str | None = None  # the detector of a cropped run's row; size and latency include it
    detector_size_bytes: int | None = None
    detector_latency_ms: float | None = None  # its p50 per image, added into latency_p50_ms

    @property
    def label(self) -> str:
        return (
            self.version.version if self.crop is None else f"{self.version.version} + {self.crop}"
        )


def latest_run(session: Session, version_id: int) -> EvalRun | None:
    return session.scalar(
        select(EvalRun)
        .where(EvalRun.model_version_id == version_id, EvalRun.status == RunStatus.FINISHED)
        .order_by(EvalRun.started_at.desc(), EvalRun.id.desc())
        .limit(1)
    )


def latest_runs(session: Session, version_id: int) -> tuple[EvalRun | None, EvalRun | None]:
    """The latest finished uncropped run of a version, and its latest cropped one."""
    plain = cropped = None
    for run in session.scalars(
        select(EvalRun)
        .where(EvalRun.model_version_id == version_id, EvalRun.status == RunStatus.FINISHED)
        .order_by(EvalRun.started_at.desc(), EvalRun.id.desc())
    ):
        if (run.settings or {}).get("crop"):
            cropped = cropped or run
        else:
            plain = plain or run
        if plain is not None and cropped is not None:
            break
    return plain, cropped


def top1_by_image(session: Session, run_id: int) -> dict[int, int | None]:
    rows = session.execute(
        select(Prediction.image_id, Prediction.top5).where(Prediction.run_id == run_id)
    )
    return {image_id: (top5[0][0] if top5 else None) for image_id, top5 in rows}


def stored_agreement(session: Session, run_a: int, run_b: int) -> tuple[float | None, int]:
    """Top-1 agreement of two runs on the images both predicted."""
    a, b = top1_by_image(session, run_a), top1_by_image(session, run_b)
    shared = sorted(set(a) & set(b))
    if not shared:
        return None, 0
    same = sum(1 for i in shared if a[i] == b[i])
    return same / len(shared), len(shared)


def tradeoff_rows(session: Session, name: str) -> list[TradeoffRow]:
    versions = list_versions(session, name)
    if not versions:
        raise BreedbenchError(f"no model called {name!r} (breedbench models list)")
    by_id = {v.id: v for v in versions}
    both = {v.id: latest_runs(session, v.id) for v in versions}
    runs = {vid: plain for vid, (plain, _) in both.items()}
    rows = []
    for v in versions:
        run = runs[v.id]
        parent = by_id.get(v.parent_id) if v.parent_id else None
        metrics: dict[str, Any] = dict(run.metrics) if run is not None else {}
        top = {
            k: Rate(m["rate"], m["ci95"][0], m["ci95"][1])
            for k in (1, 3, 5)
            if isinstance(m := metrics.get(f"top{k}"), dict)
        }
        agreement, shared = None, None
        parent_run = runs.get(parent.id) if parent is not None else None
        if run is not None and parent_run is not None:
            agreement, shared = stored_agreement(session, parent_run.id, run.id)
        excluded = metrics.get("excluded") or {}
        rows.append(
            TradeoffRow(
                version=v,
                parent=parent.ref if parent is not None else None,
                quantization=v.quantization_label,
                size_bytes=v.size_bytes,
                size_ratio=v.size_bytes / parent.size_bytes if parent else None,
                run_id=run.id if run is not None else None,
                n_images=run.n_images if run is not None else None,
                dataset_hash=run.dataset_hash if run is not None else None,
                latency_p50_ms=(metrics.get("latency_ms") or {}).get("p50"),
                top=top,
                parity_agreement=agreement,
                parity_images=shared,
                calibration_overlap=excluded.get("calibration_images") if excluded else None,
            )
        )
        cropped = both[v.id][1]
        if cropped is not None:
            rows.append(_cropped_row(v, parent, cropped))
    return rows


def _cropped_row(v: VersionInfo, parent: VersionInfo | None, run: EvalRun) -> TradeoffRow:
    """The classifier with its detector: sizes and per-image latencies added up."""
    metrics: dict[str, Any] = dict(run.metrics or {})
    crop = {**(run.settings or {}).get("crop", {}), **(metrics.get("crop") or {})}
    top = {
        k: Rate(m["rate"], m["ci95"][0], m["ci95"][1])
        for k in (1, 3, 5)
        if isinstance(m := metrics.get(f"top{k}"), dict)
    }
    det_size = crop.get("detector_size_bytes") or 0
    det_ms = (crop.get("detector_latency_ms") or {}).get("p50")
    cls_ms = (metrics.get("latency_ms") or {}).get("p50")
    excluded = metrics.get("excluded") or {}
    return TradeoffRow(
        version=v,
        parent=parent.ref if parent is not None else None,
        quantization=v.quantization_label,
        size_bytes=v.size_bytes + det_size,
        size_ratio=(v.size_bytes + det_size) / parent.size_bytes if parent else None,
        run_id=run.id,
        n_images=run.n_images,
        dataset_hash=run.dataset_hash,
        latency_p50_ms=None if cls_ms is None else cls_ms + (det_ms or 0.0),
        top=top,
        parity_agreement=None,
        parity_images=None,
        calibration_overlap=excluded.get("calibration_images") if excluded else None,
        crop=crop.get("detector"),
        detector_size_bytes=det_size,
        detector_latency_ms=det_ms,
    )


def write_plot(rows: list[TradeoffRow], path: Path, title: str) -> list[Path]:
    """Top-1 (with its interval) against size and against latency; ``path`` with ``.png`` and
    ``.svg`` suffixes. Versions without an evaluation are left out of the plot."""
    from matplotlib.figure import Figure

    points = [r for r in rows if 1 in r.top]
    if not points:
        raise BreedbenchError(
            "no version of this model has been evaluated yet: run breedbench evaluate first"
        )
    fig = Figure(figsize=(11, 5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    panels = [
        (axes[0], "size (MB)", lambda r: r.size_bytes / 1e6),
        (axes[1], "latency p50 (ms per image)", lambda r: r.latency_p50_ms),
    ]
    for ax, xlabel, xof in panels:
        for n, r in enumerate(points):
            x = xof(r)
            if x is None:
                continue
            t = r.top[1]
            kind = r.quantization if r.quantization != "-" else r.version.format
            ax.errorbar(
                [x],
                [t.rate * 100],
                yerr=[[(t.rate - t.lo) * 100], [(t.hi - t.rate) * 100]],
                fmt="o" if r.version.format != "tflite" else "s",
                color=f"C{n % 10}",
                capsize=4,
                label=f"{r.label} ({kind})" if ax is axes[0] else None,
            )
        xs = [v for v in (xof(r) for r in points) if v]
        if xs and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("top-1 accuracy (%), 95 % interval")
    fig.legend(loc="outside lower center", ncols=min(3, len(points)), fontsize="small")
    fig.suptitle(title)
    path = Path(path)
    base = path.with_suffix("") if path.suffix.lower() in (".png", ".svg") else path
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".svg"):
        target = base.with_name(base.name + suffix)
        fig.savefig(target, dpi=120)
        written.append(target)
    return written
