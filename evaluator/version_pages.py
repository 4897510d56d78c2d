"""The version report (``evaluator.version_report``) as Markdown, JSON or one HTML file.

The HTML page is self-contained: its styles are inline, its chart is SVG, its pictures are the
store's thumbnails as ``data:`` URIs, and nothing in it makes a browser fetch anything (no
script, stylesheet, font, link or remote image), so it opens the same mailed, archived or
offline. Every string from outside (model, version and breed names, conversion settings) goes
through ``html.escape`` in HTML and ``core.text.md_escape`` in Markdown. Pictures are capped
at ``VersionReport.max_images`` per list; the images not shown are named by id.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence

from core.errors import BreedbenchError
from core.text import md_escape
from evaluator.version_report import (
    FORMATS,
    Against,
    Guess,
    HistoryPoint,
    Picture,
    Rate,
    RunFacts,
    VersionReport,
    report_json,
)


def render(report: VersionReport, fmt: str) -> str:
    """The report as ``fmt`` (md | json | html)."""
    if fmt == "json":
        return json.dumps(report_json(report), indent=2)
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    raise BreedbenchError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _ci(r: Rate) -> str:
    return f"{100 * r.ci_low:.1f}–{100 * r.ci_high:.1f} %"


def _points(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else "< 0.0001"


def _verdict(p: float) -> str:
    return "significant at 5 %" if p < 0.05 else "not significant at 5 %"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def _value(x: object) -> str:
    """A conversion setting as text (nested ones as compact JSON); escaped by the caller."""
    return json.dumps(x, sort_keys=True) if isinstance(x, dict | list) else str(x)


def _prob(p: float) -> str:
    return f"{100 * p:.0f} %" if p >= 0.005 else "< 1 %"


def _top3(guesses: Sequence[Guess], esc: Callable[[object], str]) -> str:
    return ", ".join(f"{esc(g.slug)} {_prob(g.probability)}" for g in guesses) or "–"


def _cost_rows(report: VersionReport) -> list[tuple[str, str, RunFacts, int]]:
    """(label, ref, run, file size) of the version and each reference, for the cost table."""
    rows = [("this version", report.version.ref, report.run, report.version.size_bytes)]
    rows += [
        (a.role, a.reference.ref, a.reference_run, a.reference.size_bytes)
        for a in report.comparisons
    ]
    return rows


def _warmup(run: RunFacts) -> str:
    return "–" if run.warmup_ms is None else f"{run.warmup_ms:,.0f}"


def _latency_notes(report: VersionReport) -> list[tuple[str, str]]:
    """(ref, how its latency was measured) for each run in the cost table."""
    return [
        (ref, rf.latency_how + (f". {rf.crop}" if rf.crop else ""))
        for _, ref, rf, _ in _cost_rows(report)
    ]


# Markdown -------------------------------------------------------------------------------------


def render_markdown(r: VersionReport) -> str:
    m = md_escape
    v, run = r.version, r.run
    out = [
        f"# {m(v.ref)}: version report",
        "",
        f"Latest finished run #{run.id} ({m(run.started_at)}) on {run.n_images} images, "
        f"dataset `{m(run.dataset_hash or '-')}`.",
        "",
        "## Lineage and file",
        "",
        "| version | format | quantization | size | sha256 | created |",
        "|---|---|---|---:|---|---|",
    ]
    out += [
        f"| {m(f.ref)} | {m(f.format)} | {m(f.quantization)} | {_mb(f.size_bytes)} | "
        f"{m(f.sha256[:16])}… | {m(f.created_at[:19])} |"
        for f in r.lineage
    ]
    if v.conversion:
        out += [
            "",
            "Conversion: " + "; ".join(f"{m(k)} = {m(_value(x))}" for k, x in v.conversion.items()),
        ]
    if v.trusted:
        out += ["", "Registered with --trust-model: its ops are not checked when it loads."]
    if r.children:
        out += ["", "Derived from it: " + ", ".join(m(c) for c in r.children)]
    out += ["", "## Accuracy", "", "| metric | correct | rate | 95 % CI |", "|---|---:|---:|---|"]
    out += [
        f"| top-{k} | {t.correct} / {t.n} | {_pct(t.rate)} | {_ci(t)} |"
        for k, t in run.topk.items()
    ]
    out.append(f"| macro top-1 (mean over breeds) | | {_pct(run.macro_top1)} | |")
    out += [f"\n{m(note)}" for note in r.notes]
    for a in r.comparisons:
        out += _md_against(r, a)
    out += [
        "",
        "## Size and latency",
        "",
        "| | version | file size | × this | p50 ms | p95 ms | warm-up ms | images/s | run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, ref, rf, size in _cost_rows(r):
        out.append(
            f"| {label} | {m(ref)} | {_mb(size)} | {_ratio(size, r.version.size_bytes)} | "
            f"{rf.latency_p50_ms:.2f} | {rf.latency_p95_ms:.2f} | {_warmup(rf)} | "
            f"{rf.throughput_ips:.1f} | #{rf.id} |"
        )
    out += ["", "Per-image latency (p50/p95: steady state; warm-up: load + first batch):"]
    out += [f"- {m(ref)}: {m(how)}" for ref, how in _latency_notes(r)]
    out += [
        "",
        "## Per breed (worst top-1 first)",
        "",
        "| breed | images | top-1 | 95 % CI | top-5 | Δ top-1 vs parent |",
        "|---|---:|---:|---|---:|---:|",
    ]
    out += [
        f"| {m(b.slug)} | {b.top1.n} | {_pct(b.top1.rate)} | {_ci(b.top1)} | "
        f"{_pct(b.top5.rate)} | "
        f"{'' if b.delta_vs_parent is None else _points(b.delta_vs_parent)} |"
        for b in r.per_breed
    ]
    out += [
        "",
        "## Most confused",
        "",
        "| true breed | predicted | images | share | example |",
        "|---|---|---:|---:|---|",
    ]
    out += [
        f"| {m(c.true_slug)} | {m(c.predicted_slug)} | {c.count} | {_pct(c.share)} | "
        + (f"#{c.example.image_id} |" if c.example else "|")
        for c in r.confusions
    ]
    out += ["", "## History", "", "| run | started | images | top-1 | 95 % CI | top-5 |"]
    out.append("|---:|---|---:|---:|---|---:|")
    out += [
        f"| #{h.run_id} | {m(h.started_at[:16])} | {h.n_images} | {_pct(h.top1.rate)} | "
        f"{_ci(h.top1)} | {_pct(h.top5.rate)} |"
        for h in r.history
    ]
    return "\n".join(out) + "\n"


def _md_against(r: VersionReport, a: Against) -> list[str]:
    m = md_escape
    rr = a.reference_run
    out = [
        "",
        f"## Against its {a.role} {m(a.reference.ref)} (run #{rr.id})",
        "",
        f"{a.shared} images scored by both"
        + ("" if a.same_dataset else f" (only the {a.role}'s run: {a.only_reference}; ")
        + ("" if a.same_dataset else f"only this version's: {a.only_version})")
        + ".",
        "",
        f"| metric | {m(a.role)} | 95 % CI | this version | 95 % CI | Δ |",
        "|---|---:|---|---:|---|---:|",
    ]
    out += [
        f"| top-{k} | {_pct(x.rate)} | {_ci(x)} | {_pct(y.rate)} | {_ci(y)} | "
        f"{_points(y.rate - x.rate)} |"
        for k, (x, y) in a.topk.items()
    ]
    out += [
        "",
        f"McNemar's exact test (top-1): {len(a.fixed)} fixed, {len(a.broken)} broken, "
        f"p = {_p(a.p_value)} ({_verdict(a.p_value)}).",
    ]
    for label, pictures in (("Broken", a.broken), ("Fixed", a.fixed)):
        if not pictures:
            continue
        shown = r.shown(pictures)
        out += [
            "",
            f"### {label} ({len(pictures)})",
            "",
            f"| image | sha256 | true breed | {m(a.role)} top-3 | this version top-3 |",
            "|---:|---|---|---|---|",
        ]
        out += [
            f"| #{p.image_id} | {m(p.sha256[:12])}… | {m(p.true_slug)} | "
            f"{_top3(p.reference_top3, m)} | {_top3(p.version_top3, m)} |"
            for p in shown
        ]
        rest = pictures[len(shown) :]
        if rest:
            out += ["", f"And {len(rest)} more: " + ", ".join(f"#{p.image_id}" for p in rest)]
    return out


# HTML -----------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; }
code { font-size: 90%; }
.worse { color: #b2182b; } .better { color: #2166ac; }
.pics { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 170px; font-size: 12px; }
figure img { width: 160px; height: 160px; object-fit: cover; border: 1px solid #ccc;
             display: block; }
figure .none { width: 160px; height: 160px; border: 1px dashed #aaa; display: flex;
               align-items: center; justify-content: center; color: #888; }
.summary { background: #f4f6f8; padding: 0.6em 1em; border-radius: 6px; }
.more { font-size: 12px; color: #555; word-break: break-word; }
table.kv td { font-size: 12px; vertical-align: top; } table.kv code { word-break: break-all; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _delta_class(x: float) -> str:
    return "better" if x > 0 else "worse" if x < 0 else ""


def _figure(r: VersionReport, p: Picture, role: str | None, kind: str, heading: str = "") -> str:
    """One picture (the embedded thumbnail) with its id, true breed and the top-3s; ``heading``
    is HTML, already escaped."""
    uri = r.thumbnails.get(p.image_id)
    alt = f"image #{p.image_id}, {p.true_slug}"
    img = (
        f'<img src="{_e(uri)}" alt="{_e(alt)}" data-image="{p.image_id}" data-kind="{kind}">'
        if uri
        else '<div class="none">no thumbnail</div>'
    )
    lines = [heading] if heading else []
    lines.append(f"#{p.image_id} · true: <b>{_e(p.true_slug)}</b>")
    if role is not None:
        lines.append(f"{_e(role)}: {_top3(p.reference_top3, _e)}")
        lines.append(f"this: {_top3(p.version_top3, _e)}")
    else:
        lines.append(f"predicted: {_top3(p.version_top3, _e)}")
    return f"<figure>{img}<figcaption>{'<br>'.join(lines)}</figcaption></figure>"


def _html_against(r: VersionReport, a: Against, index: int) -> str:
    rr = a.reference_run
    rows = "".join(
        f"<tr><td>top-{k}</td><td class=n>{_pct(x.rate)}</td><td>{_ci(x)}</td>"
        f"<td class=n>{_pct(y.rate)}</td><td>{_ci(y)}</td>"
        f'<td class="n {_delta_class(y.rate - x.rate)}">{_points(y.rate - x.rate)}</td></tr>'
        for k, (x, y) in a.topk.items()
    )
    sets = (
        "the same images"
        if a.same_dataset
        else f"different image sets: only the {_e(a.role)}'s run {a.only_reference}, "
        f"only this version's {a.only_version}"
    )
    parts = [
        f'<section id="against-{index}"><h2>Against its {_e(a.role)} {_e(a.reference.ref)} '
        f"(run #{rr.id})</h2>",
        f"<p>{a.shared} images scored by both ({sets}).</p>",
        f"<table><tr><th>metric</th><th class=n>{_e(a.role)}</th><th>95 % CI</th>"
        f"<th class=n>this version</th><th>95 % CI</th><th class=n>Δ</th></tr>{rows}</table>",
        f"<p>McNemar's exact test (top-1): <b>{len(a.fixed)}</b> fixed, "
        f"<b>{len(a.broken)}</b> broken, p = {_p(a.p_value)} ({_verdict(a.p_value)}).</p>",
    ]
    for label, kind, pictures, order in (
        ("Broken", "broken", a.broken, f"the {_e(a.role)}'s most confident first"),
        ("Fixed", "fixed", a.fixed, "this version's most confident first"),
    ):
        shown = r.shown(pictures)
        parts.append(
            f'<h3>{label}: {len(pictures)} images</h3><div class="pics" '
            f'data-list="{kind}-{index}">'
            + "".join(_figure(r, p, a.role, kind) for p in shown)
            + "</div>"
        )
        if pictures:
            parts.append(f'<p class="more">Shown: {len(shown)} of {len(pictures)}, {order}.')
        rest = pictures[len(shown) :]
        if rest:
            parts.append(" Not shown: " + ", ".join(f"#{p.image_id}" for p in rest) + ".")
        parts.append("</p>" if pictures else "")
    return "".join(parts) + "</section>"


def _nice_step(span: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25):
        if span / step <= 6:
            return step
    return 0.25


def svg_history(points: Sequence[HistoryPoint], latest_hash: str | None) -> str:
    """Top-1 (dark) and top-5 (light) of each run, oldest first, with 95 % intervals; a hollow
    marker is a run on other images than the latest run's."""
    w, h, left, right, top, bottom = 680, 230, 48, 16, 14, 44
    lows = [x.ci_low for p in points for x in (p.top1, p.top5)]
    highs = [x.ci_high for p in points for x in (p.top1, p.top5)]
    step = _nice_step(max(highs) - min(lows) + 0.04)
    lo = max(0.0, math.floor((min(lows) - 0.02) / step) * step)
    hi = min(1.0, math.ceil((max(highs) + 0.02) / step) * step)
    hi = hi if hi > lo else lo + step
    plot_w, plot_h = w - left - right, h - top - bottom

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    def x(i: int) -> float:
        return left + plot_w / 2 if len(points) == 1 else left + i * plot_w / (len(points) - 1)

    parts = [
        f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" font-size="11" '
        f'aria-label="top-1 and top-5 of each run">'
    ]
    tick = lo
    while tick <= hi + 1e-9:
        parts.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#e3e3e3"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{100 * tick:.0f} %</text>'
        )
        tick += step
    every = max(1, math.ceil(len(points) / 12))
    for series, colour in (("top5", "#6baed6"), ("top1", "#08519c")):
        coords = [(x(i), y(getattr(p, series).rate)) for i, p in enumerate(points)]
        if len(coords) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for i, p in enumerate(points):
            rate: Rate = getattr(p, series)
            cx = x(i)
            same = latest_hash is not None and p.dataset_hash == latest_hash
            parts.append(
                f"<g><title>run #{p.run_id}, {_e(p.started_at[:16])}, {series[:3]}-"
                f"{series[3:]} {_pct(rate.rate)} ({_ci(rate)}), {p.n_images} images</title>"
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(rate.ci_low):.1f}" '
                f'y2="{y(rate.ci_high):.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<circle cx="{cx:.1f}" cy="{y(rate.rate):.1f}" r="4" stroke="{colour}" '
                f'stroke-width="2" fill="{colour if same else "#fff"}"/></g>'
            )
    for i, p in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                f"#{p.run_id}</text>"
                f'<text x="{x(i):.1f}" y="{h - bottom + 30}" text-anchor="middle" '
                f'fill="#666">{_e(p.started_at[5:10])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def render_html(r: VersionReport) -> str:
    v, run = r.version, r.run
    title = _e(f"{v.ref}: version report")
    lineage = "".join(
        f"<tr><td>{_e(f.ref)}</td><td>{_e(f.format)}</td><td>{_e(f.quantization)}</td>"
        f"<td class=n>{_mb(f.size_bytes)}</td><td><code>{_e(f.sha256[:16])}…</code></td>"
        f"<td>{_e(f.created_at[:19])}</td></tr>"
        for f in r.lineage
    )
    conversion = (
        '<h3>Conversion</h3><table class="kv">'
        + "".join(
            f"<tr><td>{_e(k)}</td><td><code>{_e(_value(x))}</code></td></tr>"
            for k, x in v.conversion.items()
        )
        + "</table>"
        if v.conversion
        else ""
    )
    accuracy = "".join(
        f"<tr><td>top-{k}</td><td class=n>{t.correct} / {t.n}</td><td class=n>{_pct(t.rate)}"
        f"</td><td>{_ci(t)}</td></tr>"
        for k, t in run.topk.items()
    )
    summary = [
        f"Run #{run.id} of {_e(run.started_at[:16])} on {run.n_images} images: top-1 "
        f"<b>{_pct(run.topk[1].rate)}</b> ({_ci(run.topk[1])})."
    ]
    for a in r.comparisons:
        summary.append(
            f"Against its {_e(a.role)} {_e(a.reference.ref)}: top-1 "
            f'<b class="{_delta_class(a.delta_top1)}">{_points(a.delta_top1)}</b> on '
            f"{a.shared} shared images, {len(a.broken)} broken, {len(a.fixed)} fixed, "
            f"McNemar p = {_p(a.p_value)} ({_verdict(a.p_value)}); file "
            f"{_ratio(v.size_bytes, a.reference.size_bytes)} the size, latency p50 "
            f"{_ratio(run.latency_p50_ms, a.reference_run.latency_p50_ms)}."
        )
    summary += [_e(n) for n in r.notes]
    cost = "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(ref)}</td><td class=n>{_mb(size)}</td>"
        f"<td class=n>{_ratio(size, v.size_bytes)}</td><td class=n>{rf.latency_p50_ms:.2f}</td>"
        f"<td class=n>{rf.latency_p95_ms:.2f}</td><td class=n>{_warmup(rf)}</td>"
        f"<td class=n>{rf.throughput_ips:.1f}</td><td class=n>#{rf.id}</td></tr>"
        for label, ref, rf, size in _cost_rows(r)
    )
    latency_notes = "".join(f"<li>{_e(ref)}: {_e(how)}</li>" for ref, how in _latency_notes(r))
    facts = conversion
    if v.trusted:
        facts += "<p>Registered with --trust-model: its ops are not checked when it loads.</p>"
    if r.children:
        facts += "<p>Derived from it: " + ", ".join(_e(c) for c in r.children) + ".</p>"
    breeds = "".join(
        f"<tr><td>{_e(b.slug)}</td><td class=n>{b.top1.n}</td><td class=n>{_pct(b.top1.rate)}"
        f"</td><td>{_ci(b.top1)}</td><td class=n>{_pct(b.top5.rate)}</td>"
        + (
            "<td></td>"
            if b.delta_vs_parent is None
            else f'<td class="n {_delta_class(b.delta_vs_parent)}">'
            f"{_points(b.delta_vs_parent)}</td>"
        )
        + "</tr>"
        for b in r.per_breed
    )
    confused = "".join(
        f"<tr><td>{_e(c.true_slug)}</td><td>{_e(c.predicted_slug)}</td><td class=n>{c.count}"
        f"</td><td class=n>{_pct(c.share)}</td></tr>"
        for c in r.confusions
    )
    examples = "".join(
        _figure(
            r,
            c.example,
            None,
            "confusion",
            f"<b>{_e(c.true_slug)} → {_e(c.predicted_slug)}</b> ({c.count})",
        )
        for c in r.confusions
        if c.example is not None
    )
    history = "".join(
        f"<tr><td>#{h.run_id}</td><td>{_e(h.started_at[:16])}</td><td class=n>{h.n_images}</td>"
        f"<td><code>{_e((h.dataset_hash or '-')[:12])}</code></td>"
        f"<td class=n>{_pct(h.top1.rate)}</td><td>{_ci(h.top1)}</td>"
        f"<td class=n>{_pct(h.top5.rate)}</td></tr>"
        for h in r.history
    )
    ex = run.excluded
    coverage = (
        f"Excluded: {ex.get('uncovered_images', 0)} images of breeds the model cannot predict, "
        f"{ex.get('calibration_images', 0)} calibration images "
        f"({'kept' if ex.get('calibration_included') else 'left out'})."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<div class="summary"><p>{"<br>".join(summary)}</p></div>
<h2>Lineage and file</h2>
<table><tr><th>version</th><th>format</th><th>quantization</th><th class=n>size</th>
<th>sha256</th><th>created</th></tr>{lineage}</table>
{facts}
<h2>Accuracy of run #{run.id}</h2>
<p>{run.n_images} images, dataset <code>{_e(run.dataset_hash or "-")}</code>. {coverage}</p>
<table><tr><th>metric</th><th class=n>correct</th><th class=n>rate</th><th>95 % CI</th></tr>
{accuracy}<tr><td>macro top-1</td><td></td><td class=n>{_pct(run.macro_top1)}</td><td></td></tr>
</table>
{"".join(_html_against(r, a, i) for i, a in enumerate(r.comparisons))}
<h2>Size and latency</h2>
<table><tr><th></th><th>version</th><th class=n>file size</th><th class=n>× this</th>
<th class=n>p50 ms</th><th class=n>p95 ms</th><th class=n>warm-up ms</th><th class=n>images/s</th>
<th class=n>run</th></tr>{cost}</table>
<p>Per-image latency (p50/p95: steady state; warm-up: load + first batch):</p>
<ul>{latency_notes}</ul>
<h2>Per breed (worst top-1 first)</h2>
<table><tr><th>breed</th><th class=n>images</th><th class=n>top-1</th><th>95 % CI</th>
<th class=n>top-5</th><th class=n>Δ top-1 vs parent</th></tr>{breeds}</table>
<h2>Most confused</h2>
<table><tr><th>true breed</th><th>predicted</th><th class=n>images</th><th class=n>share</th>
</tr>{confused}</table>
<p>The most confident such mistake of each pair:</p>
<div class="pics" data-list="confusions">{examples}</div>
<h2>History of its runs</h2>
<p>Top-1 (dark) and top-5 (light) with 95 % intervals; hollow: other images than run
#{run.id}.</p>
{svg_history(r.history, run.dataset_hash)}
<table><tr><th>run</th><th>started</th><th class=n>images</th><th>dataset</th>
<th class=n>top-1</th><th>95 % CI</th><th class=n>top-5</th></tr>{history}</table>
</body></html>
"""
