"""``breedbench report RUN``: one run as JSON, Markdown or a single self-contained HTML file.

The JSON has every image's result too (``images``: id, sha256, true breed, the rank of the true
breed, the top-5 breeds with their probabilities, latency; the values of its rows in
``breedbench predictions``). Model classes that are not breeds are named as people read them
(``evaluator.class_names``: ``wine bottle (n04591713)``, not ``n04591713 wine bottle``).

The HTML has its charts inline as SVG and no external resource (no scripts, fonts, stylesheets
or images fetched), so it can be mailed or archived and still open the same way in years.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from core.text import md_escape
from evaluator import latency
from evaluator.class_names import class_names
from evaluator.registry import get_version_by_id
from evaluator.results import breed_results, confusions, get_run, lineage, predictions

FORMATS = ("md", "json", "html")
NON_BREEDS_SHOWN = 10  # model classes that are not breeds, named in the Markdown and HTML


def report_data(session: Session, run_id: int) -> dict[str, Any]:
    """Everything a report shows, JSON-able."""
    run = get_run(session, run_id)
    s = run.summary
    version = get_version_by_id(session, s.version_id)
    return {
        "run": {
            "id": s.id,
            "model": s.model_name,
            "version": s.version,
            "format": s.format,
            "status": s.status,
            "started_at": s.started_at.isoformat(),
            "finished_at": s.finished_at.isoformat() if s.finished_at else None,
            "dataset_hash": s.dataset_hash,
            "n_images": s.n_images,
        },
        "model_file": {"sha256": version.sha256, "size_bytes": version.size_bytes},
        "lineage": [v.ref for v in lineage(session, s.version_id)],
        "topk": [asdict(t) for t in run.topk],
        "macro_top1": s.macro_top1,
        "latency_ms": {"p50": s.latency_p50_ms, "p95": s.latency_p95_ms},
        # How p50/p95 were measured (steady state, batch size) and the warm-up kept apart.
        "latency": {**(run.metrics.get("latency") or {}), "how": latency.describe(run.metrics)},
        "throughput_ips": s.throughput_ips,
        "excluded": run.excluded,
        # The stored labels (at most 50) as people read them; their count is in ``excluded``.
        "non_breed_class_names": class_names(session, run.excluded.get("non_breed_labels", [])),
        "settings": run.settings,
        # A cropped run (evaluate --crop): the detector, its crops, fallbacks and own latency.
        "crop": crop_data(run.settings, run.metrics),
        "per_breed": [
            {**asdict(b), "top1_rate": b.top1_rate, "top5_rate": b.top5_rate}
            for b in breed_results(session, run_id)
        ],
        "confusions": [asdict(c) for c in confusions(session, run_id)],
        "images": [p.record() for p in predictions(session, run_id)],
    }


def crop_data(settings: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The crop's settings and what the detector did; None for a run classified uncropped."""
    if not settings.get("crop"):
        return None
    return {**settings["crop"], **(metrics.get("crop") or {})}


def crop_summary(settings: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """One line: which detector cropped, how many images it found a dog in, the fallbacks,
    and its latency apart from the classifier's."""
    c = crop_data(settings, metrics)
    if c is None:
        return None
    lat = c.get("detector_latency_ms")
    timing = (
        f"detector latency p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms per image "
        "(apart from the classifier's)"
        if lat
        else "no detector latency measured"
    )
    runs, hits = c.get("detector_runs", 0), c.get("detector_cache_hits", 0)
    return (
        f"Cropped by {c['detector']} (margin {c['margin']:g}, {c['policy']} box, min score "
        f"{c.get('min_score')}): {c.get('detections', 0)} images cropped to a dog, "
        f"{c.get('fallbacks', 0)} with no detection classified whole; {timing}; detector run "
        f"on {runs} images, {hits} from its cache."
    )


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    if fmt == "md":
        return render_markdown(data)
    return render_html(data)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_markdown(d: dict[str, Any]) -> str:
    r = d["run"]
    lines = [
        f"# Run {r['id']}: {r['model']}:{r['version']} ({r['format']})",
        "",
        f"- images: {r['n_images']}, dataset hash `{r['dataset_hash']}`",
        f"- started {r['started_at']}, status {r['status']}",
        f"- model file: {d['model_file']['size_bytes'] / 1e6:.1f} MB, "
        f"sha256 `{d['model_file']['sha256'][:16]}…`",
        f"- lineage: {' → '.join(d['lineage'])}",
        f"- latency per image p50 {d['latency_ms']['p50']:.2f} ms, "
        f"p95 {d['latency_ms']['p95']:.2f} ms; throughput {d['throughput_ips']:.1f} images/s",
        f"- latency measured as: {d['latency']['how']}",
        *_crop_lines(d, md_escape),
        "",
        "| metric | correct | rate | 95 % CI |",
        "|---|---:|---:|---|",
    ]
    for t in d["topk"]:
        lines.append(
            f"| top-{t['k']} | {t['correct']} / {t['n']} | {_pct(t['rate'])} | "
            f"{_pct(t['ci_low'])} – {_pct(t['ci_high'])} |"
        )
    lines.append(f"| macro top-1 (mean over breeds) | | {_pct(d['macro_top1'])} | |")
    ex = d["excluded"]
    lines += [
        "",
        "## Coverage",
        "",
        f"- images of breeds the model cannot predict (excluded): {ex.get('uncovered_images', 0)}",
        f"- calibration images of this version: {ex.get('calibration_images', 0)} "
        f"({'included' if ex.get('calibration_included') else 'excluded'})",
        f"- model classes that are not breeds: {ex.get('non_breed_classes', 0)}"
        + _non_breeds(d, md_escape),
        *_window_lines(ex),
        "",
        "## Most confused",
        "",
        "| true breed | predicted | images |",
        "|---|---|---:|",
    ]
    lines += [
        f"| {c['true_slug']} | {c['predicted_slug']} | {c['count']} |" for c in d["confusions"]
    ]
    lines += [
        "",
        "## Per breed (worst first)",
        "",
        "| breed | n | top-1 | top-5 |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {b['slug']} | {b['n']} | {_pct(b['top1_rate'])} | {_pct(b['top5_rate'])} |"
        for b in d["per_breed"]
    ]
    return "\n".join(lines) + "\n"


def _crop_lines(d: dict[str, Any], escape: Callable[[str], str]) -> list[str]:
    line = crop_summary(d["settings"], {"crop": d.get("crop")}) if d.get("crop") else None
    return [] if line is None else [f"- {escape(line)}"]


def _non_breeds(d: dict[str, Any], escape: Callable[[str], str]) -> str:
    """`` (tench (n01440764), wine bottle (n04591713), … and 990 more)``, or nothing."""
    names = d.get("non_breed_class_names", [])
    if not names:
        return ""
    total = max(len(names), d["excluded"].get("non_breed_classes", 0))
    shown = ", ".join(escape(n) for n in names[:NON_BREEDS_SHOWN])
    more = total - min(len(names), NON_BREEDS_SHOWN)
    return f" ({shown}{f', … and {more} more' if more > 0 else ''})"


def _svg_topk(topk: list[dict[str, Any]]) -> str:
    """Top-1/3/5 bars with their 95 % intervals."""
    w, h, pad, bar = 360, 200, 30, 60
    parts = [f'<svg width="{w}" height="{h}" role="img">']
    for i, t in enumerate(topk):
        x = pad + i * (bar + 40)
        scale = h - 2 * pad
        y = h - pad - t["rate"] * scale
        lo, hi = h - pad - t["ci_low"] * scale, h - pad - t["ci_high"] * scale
        parts += [
            f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h - pad - y:.1f}" fill="#4c78a8"/>',
            f'<line x1="{x + bar / 2}" x2="{x + bar / 2}" y1="{lo:.1f}" y2="{hi:.1f}" '
            'stroke="#222" stroke-width="2"/>',
            f'<text x="{x + bar / 2}" y="{h - 10}" text-anchor="middle" font-size="12">'
            f"top-{t['k']}</text>",
            f'<text x="{x + bar / 2}" y="{max(12, y - 6):.1f}" text-anchor="middle" '
            f'font-size="12">{_pct(t["rate"])}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _svg_breeds(per_breed: list[dict[str, Any]]) -> str:
    """One horizontal bar per breed: top-1 (dark) over top-5 (light)."""
    row, label_w, bar_w = 14, 230, 300
    h = row * len(per_breed) + 10
    parts = [f'<svg width="{label_w + bar_w + 60}" height="{h}" role="img" font-size="11">']
    for i, b in enumerate(per_breed):
        y = 5 + i * row
        parts += [
            f'<text x="{label_w - 6}" y="{y + 10}" text-anchor="end">'
            f"{html.escape(b['slug'])} ({b['n']})</text>",
            f'<rect x="{label_w}" y="{y + 1}" width="{b["top5_rate"] * bar_w:.1f}" '
            f'height="{row - 3}" fill="#c6dbef"/>',
            f'<rect x="{label_w}" y="{y + 1}" width="{b["top1_rate"] * bar_w:.1f}" '
            f'height="{row - 3}" fill="#2171b5"/>',
            f'<text x="{label_w + bar_w + 6}" y="{y + 10}">{_pct(b["top1_rate"])}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(d: dict[str, Any]) -> str:
    r = d["run"]
    title = html.escape(f"Run {r['id']}: {r['model']}:{r['version']}")
    rows = "".join(
        f"<tr><td>top-{t['k']}</td><td>{t['correct']} / {t['n']}</td><td>{_pct(t['rate'])}</td>"
        f"<td>{_pct(t['ci_low'])} – {_pct(t['ci_high'])}</td></tr>"
        for t in d["topk"]
    )
    conf = "".join(
        f"<tr><td>{html.escape(c['true_slug'])}</td><td>{html.escape(c['predicted_slug'])}</td>"
        f"<td>{c['count']}</td></tr>"
        for c in d["confusions"]
    )
    ex = d["excluded"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 900px; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 2px 10px; border-bottom: 1px solid #ddd; }}
code {{ font-size: 90%; }}
</style></head><body>
<h1>{title}</h1>
<p>{r["n_images"]} images, format {html.escape(r["format"])}, dataset hash
<code>{html.escape(str(r["dataset_hash"]))}</code>, started {html.escape(r["started_at"])}.<br>
Lineage: {html.escape(" → ".join(d["lineage"]))}. Model file
{d["model_file"]["size_bytes"] / 1e6:.1f} MB. Latency p50 {d["latency_ms"]["p50"]:.2f} ms,
p95 {d["latency_ms"]["p95"]:.2f} ms; {d["throughput_ips"]:.1f} images/s.<br>
Latency measured as: {html.escape(d["latency"]["how"])}.
{"".join("<br>" + html.escape(x[2:]) for x in _crop_lines(d, lambda t: t))}</p>
<h2>Accuracy</h2>
<table><tr><th>metric</th><th>correct</th><th>rate</th><th>95 % CI</th></tr>{rows}
<tr><td>macro top-1</td><td></td><td>{_pct(d["macro_top1"])}</td><td></td></tr></table>
{_svg_topk(d["topk"])}
<h2>Coverage</h2>
<p>Excluded images of breeds the model cannot predict: {ex.get("uncovered_images", 0)}.
Calibration images of this version: {ex.get("calibration_images", 0)}
({"included" if ex.get("calibration_included") else "excluded"}).
Model classes that are not breeds: {ex.get("non_breed_classes", 0)}{_non_breeds(d, html.escape)}.
{html.escape(" ".join(line.removeprefix("- ") for line in _window_lines(ex)))}
</p>
<h2>Most confused</h2>
<table><tr><th>true breed</th><th>predicted</th><th>images</th></tr>{conf}</table>
<h2>Per breed (worst first; dark: top-1, light: top-5)</h2>
{_svg_breeds(d["per_breed"])}
</body></html>
"""


def _window_lines(excluded: dict[str, Any]) -> list[str]:
    """The freshness cut-off the run was restricted to (``evaluate --uploaded-after``)."""
    after = excluded.get("uploaded_after")
    if not after:
        return []
    return [
        f"- only images uploaded at or after {after} (UTC): "
        f"{excluded.get('before_cutoff_images', 0)} older and "
        f"{excluded.get('date_unknown_images', 0)} of unknown upload date left out"
    ]
