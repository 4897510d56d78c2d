"""``breedbench report MODEL:VERSION``: the version report names what a conversion broke, shows
it with the store's own thumbnails, escapes every outside string and stays one file that loads
nothing.

The conversion here really breaks images: the tiny classic graph converted to full int8 with a
single calibration image (ranges fitted to one picture), evaluated on faintly tinted images the
float graph is unsure about. Which images it breaks is checked against the stored predictions
of both runs, read independently of the report.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from breedbench.cli import app
from core.settings import Settings
from core.text import md_escape
from db.database import Database, open_database
from db.models import Breed, EvalRun, Image, Model, ModelVersion
from db.seed import seed_breeds
from evaluator.compare import compare_runs
from evaluator.convert import ConversionRequest, convert_version
from evaluator.pipeline import evaluate
from evaluator.registry import get_version
from evaluator.results import predictions
from evaluator.version_pages import render
from evaluator.version_report import MAX_CONFUSIONS, build_report
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.factories import insert_image
from tests.fixtures.evaluation import accept, classic_spec, register
from tests.fixtures.seeding import Seeded
from tests.modelkit import TinyModels, class_jpeg

runner = CliRunner()
URL_ATTRS = {"src", "href", "srcset", "action", "poster", "data", "xlink:href", "background"}
PER_CLASS = 50


# --- a quantized child that breaks images, evaluated for real ---------------------------------


@dataclass(frozen=True)
class Evaluated:
    db: Database
    parent_run: int
    child: str  # NAME:VERSION of the int8 child
    child_run: int
    baseline: str  # a dynamic-range sibling, for --against
    baseline_run: int

    def cli(self, *args: str) -> str:
        base = ["--db", self.db.settings.resolved_database_url()]
        base += ["--data-dir", str(self.db.settings.data_dir)]
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 0, result.output
        return result.stdout


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: TinyModels
) -> Iterator[Evaluated]:
    root = tmp_path_factory.mktemp("version_report")
    settings = Settings(data_dir=root / "data", database_url=f"sqlite:///{root / 'bb.db'}")
    db = open_database(settings)
    with db.session() as s:
        seed_breeds(s)
    n = len(tiny_models.labels)
    for i in range(PER_CLASS):
        for c, slug in enumerate(tiny_models.labels):
            data = class_jpeg(c, n, 500 + i, 40, 36, tint=(0.0, 0.1))
            accept(db, insert_image(db, slug, data=data))
    register(db, tiny_models.classic_pb, classic_spec(tiny_models), version="pb")
    child = convert_version(
        db,
        "tiny:pb",
        ConversionRequest(quantize="int8", input_tensor="Sub", calibration=1),
        new_version="int8-cal1",
    ).version
    baseline = convert_version(
        db, "tiny:pb", ConversionRequest(quantize="dynamic", input_tensor="Sub"), new_version="dyn"
    ).version
    parent_run = evaluate(db, "tiny:pb").run_id
    baseline_run = evaluate(db, baseline.ref).run_id
    child_run = evaluate(db, child.ref).run_id
    yield Evaluated(db, parent_run, child.ref, child_run, baseline.ref, baseline_run)
    db.dispose()


def right_and_wrong(db: Database, parent_run: int, child_run: int) -> tuple[set[int], set[int]]:
    """(broken, fixed) from the stored predictions of both runs, on the images both scored."""
    with db.session() as s:
        a = {p.image_id: p.rank == 1 for p in predictions(s, parent_run)}
        b = {p.image_id: p.rank == 1 for p in predictions(s, child_run)}
    shared = set(a) & set(b)
    return {i for i in shared if a[i] and not b[i]}, {i for i in shared if b[i] and not a[i]}


def test_version_report_names_the_images_its_conversion_broke(evaluated: Evaluated) -> None:
    data = json.loads(evaluated.cli("report", evaluated.child, "--format", "json"))
    broken, fixed = right_and_wrong(evaluated.db, evaluated.parent_run, evaluated.child_run)
    assert broken, "the int8 child calibrated on one image should break some images"
    (parent,) = data["comparisons"]
    assert parent["role"] == "parent" and parent["reference"]["ref"] == "tiny:pb"
    assert parent["reference_run"]["id"] == evaluated.parent_run
    assert data["run"]["id"] == evaluated.child_run
    assert set(parent["broken_ids"]) == broken and set(parent["fixed_ids"]) == fixed
    assert [p["image_id"] for p in parent["broken"]] == parent["broken_ids"]
    with evaluated.db.session() as s:
        c = compare_runs(s, evaluated.parent_run, evaluated.child_run)
        rows = {p.image_id: p for p in predictions(s, evaluated.child_run)}
        parent_rows = {p.image_id: p for p in predictions(s, evaluated.parent_run)}
    assert parent["p_value"] == pytest.approx(c.p_value)
    assert parent["shared"] == c.shared and parent["only_version"] == c.only_b == 0
    assert parent["only_reference"] == c.only_a == 1  # the calibration image is left out
    for k in (1, 3, 5):
        ref, ver = parent["topk"][f"top{k}"]["reference"], parent["topk"][f"top{k}"]["version"]
        assert (ref["correct"], ver["correct"]) == c.correct[k]
        assert ref["n"] == ver["n"] == c.shared
        assert ref["ci_low"] <= ref["rate"] <= ref["ci_high"] + 1e-9
    first = parent["broken"][0]
    child_top3 = [(g.slug, g.probability) for g in rows[first["image_id"]].top5[:3]]
    parent_top3 = [(g.slug, g.probability) for g in parent_rows[first["image_id"]].top5[:3]]
    assert [(g["slug"], g["probability"]) for g in first["version_top3"]] == child_top3
    assert [(g["slug"], g["probability"]) for g in first["reference_top3"]] == parent_top3
    assert parent_top3[0][0] == first["true_slug"] != child_top3[0][0]
    # Most confident parent answers first: what the child lost that the parent was sure of.
    confidence = [p["reference_top3"][0]["probability"] for p in parent["broken"]]
    assert confidence == sorted(confidence, reverse=True)


def test_markdown_names_every_broken_image(evaluated: Evaluated) -> None:
    text = evaluated.cli("report", evaluated.child, "--max-images", "3")
    broken, _ = right_and_wrong(evaluated.db, evaluated.parent_run, evaluated.child_run)
    section = text.split("### Broken", 1)[1].split("###", 1)[0]
    assert set(map(int, re.findall(r"#(\d+)", section))) == broken
    assert len(re.findall(r"^\| #\d+ \|", section, re.M)) == min(3, len(broken))
    assert f"({len(broken)})" in section.splitlines()[0]
    assert "tiny\\:pb" in text and "p = " in text


def test_against_a_baseline(evaluated: Evaluated) -> None:
    data = json.loads(
        evaluated.cli(
            "report", evaluated.child, "--format", "json", "--against", evaluated.baseline
        )
    )
    roles = [
        (c["role"], c["reference"]["ref"], c["reference_run"]["id"]) for c in data["comparisons"]
    ]
    assert roles == [
        ("parent", "tiny:pb", evaluated.parent_run),
        ("baseline", evaluated.baseline, evaluated.baseline_run),
    ]
    broken, fixed = right_and_wrong(evaluated.db, evaluated.baseline_run, evaluated.child_run)
    baseline = data["comparisons"][1]
    assert set(baseline["broken_ids"]) == broken and set(baseline["fixed_ids"]) == fixed
    # The parent as the baseline: one comparison, and a note saying so.
    data = json.loads(
        evaluated.cli("report", evaluated.child, "--format", "json", "--against", "tiny:pb")
    )
    assert [c["role"] for c in data["comparisons"]] == ["parent"]
    assert "is its parent" in data["notes"][0]


class Page(HTMLParser):
    """The tags, every URL-valued attribute, and the images with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k.lower() in URL_ATTRS]
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def assert_self_contained(text: str) -> None:
    """Nothing that would load: no URL but a data: picture, no tag that fetches, no CSS import."""
    page = parse(text)
    assert not [u for u in page.urls if not u.startswith("data:image/jpeg;base64,")]
    assert not {"link", "iframe", "object", "embed", "script", "base", "video"} & set(page.tags)
    assert not re.search(r"url\(", text) and "@import" not in text


def test_html_embeds_the_store_thumbnails_of_the_broken_images(
    evaluated: Evaluated, tmp_path: Path
) -> None:
    out = tmp_path / "v.html"
    evaluated.cli(
        "report", evaluated.child, "--format", "html", "--max-images", "4", "-o", str(out)
    )
    text = out.read_text(encoding="utf-8")
    assert_self_contained(text)
    broken, _ = right_and_wrong(evaluated.db, evaluated.parent_run, evaluated.child_run)
    shown = [i for i in parse(text).images if i.get("data-kind") == "broken"]
    assert len(shown) == min(4, len(broken))
    with evaluated.db.session() as s:
        thumbs = dict(s.execute(select(Image.id, Image.thumb_path)).tuples().all())
    for img in shown:
        image_id = int(img["data-image"])
        assert image_id in broken
        data = base64.b64decode(img["src"].removeprefix("data:image/jpeg;base64,"))
        assert data == evaluated.db.store.read(thumbs[image_id])
    hidden = broken - {int(i["data-image"]) for i in shown}
    listed = text.split("Not shown:", 1)[1].split("</p>", 1)[0]
    assert set(map(int, re.findall(r"#(\d+)", listed))) == hidden
    assert text.count("<svg") == 1 and "History of its runs" in text


@pytest.mark.browser
@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_version_report_opens_standalone_in_chromium_and_shows_the_broken_images(
    evaluated: Evaluated, tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    path = tmp_path / "version.html"
    evaluated.cli("report", evaluated.child, "--format", "html", "--against", evaluated.baseline,
                  "-o", str(path))  # fmt: skip
    broken, _ = right_and_wrong(evaluated.db, evaluated.parent_run, evaluated.child_run)
    attempted: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
                    else attempted.append(r.url))  # fmt: skip
            page.goto(path.as_uri(), wait_until="load")
            shown = page.evaluate(
                """() => [...document.querySelectorAll('[data-list="broken-0"] img')].map(i => ({
                    id: Number(i.dataset.image), src: i.getAttribute('src'),
                    width: i.naturalWidth, complete: i.complete,
                    visible: i.getBoundingClientRect().width > 0 }))"""
            )
            title = page.title()
            page.locator('[data-list="broken-0"]').scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "version_report.png"), full_page=True)
        finally:
            browser.close()
    assert attempted == []
    assert title == f"{evaluated.child}: version report"
    assert len(shown) == min(len(broken), 12) > 0
    for img in shown:
        assert img["id"] in broken
        assert img["src"].startswith("data:image/jpeg;base64,")
        assert img["complete"] and img["width"] > 0 and img["visible"], img["id"]


# --- seeded history: shape, choices, escaping, the command's dispatch --------------------------


def cli(database: Database, *args: str) -> tuple[int, str]:
    base = ["--db", database.settings.resolved_database_url()]
    base += ["--data-dir", str(database.settings.data_dir)]
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_json_shape(database: Database, seeded: Seeded) -> None:
    code, out = cli(database, "report", "inception-breeds:1-dynamic", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert set(data) == {
        "version", "lineage", "children", "run", "comparisons", "notes", "per_breed",
        "confusions", "history", "max_images",
    }  # fmt: skip
    assert data["version"]["ref"] == "inception-breeds:1-dynamic"
    assert data["version"]["parent"] == "inception-breeds:1"
    with database.session() as s:
        known = get_version(s, "inception-breeds:1-dynamic").quantization_label
    assert data["version"]["quantization"] == known
    assert [v["ref"] for v in data["lineage"]] == [
        "inception-breeds:1",
        "inception-breeds:1-dynamic",
    ]
    assert data["run"]["id"] == seeded.runs["lite-1"]
    assert set(data["run"]["topk"]) == {"top1", "top3", "top5"}
    assert set(data["run"]["topk"]["top1"]) == {"correct", "n", "rate", "ci_low", "ci_high"}
    (parent,) = data["comparisons"]
    assert parent["reference_run"]["id"] == seeded.runs["pb-2"]  # the parent's newest run
    ranks_a, ranks_b = seeded.ranks["pb-2"], seeded.ranks["lite-1"]
    assert set(parent["broken_ids"]) == {i for i in ranks_a if ranks_a[i] == 1 != ranks_b[i]}
    assert set(parent["fixed_ids"]) == {i for i in ranks_a if ranks_b[i] == 1 != ranks_a[i]}
    rates = [(b["top1"]["rate"], b["top5"]["rate"]) for b in data["per_breed"]]
    assert [r[0] for r in rates] == sorted(r[0] for r in rates)
    assert all(b["delta_vs_parent"] is not None for b in data["per_breed"])
    assert 0 < len(data["confusions"]) <= MAX_CONFUSIONS
    for c in data["confusions"]:
        example = c["example"]
        assert example["true_slug"] == c["true_slug"]
        assert example["version_top3"][0]["slug"] == c["predicted_slug"]
    assert [h["run_id"] for h in data["history"]] == [seeded.runs["lite-1"]]
    assert data["notes"] == []


def test_an_original_and_its_history(database: Database, seeded: Seeded) -> None:
    code, out = cli(database, "report", "inception-breeds:1", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["comparisons"] == [] and "no parent" in data["notes"][0]
    assert [h["run_id"] for h in data["history"]] == [seeded.runs["pb-1"], seeded.runs["pb-2"]]
    assert data["children"] == ["inception-breeds:1-dynamic"]
    code, out = cli(database, "report", "inception-breeds", "--format", "json")  # newest version
    assert code == 0 and json.loads(out)["version"]["ref"] == "inception-breeds:1-dynamic"


HOSTILE_MODEL = "<img src=x onerror=alert(1)>|**m**"
HOSTILE_BREED = "[pug](https://evil.example/x.png)|<script>x</script>_*"


def make_hostile(database: Database) -> None:
    with database.session() as s:
        s.execute(update(Model).values(name=HOSTILE_MODEL))
        s.execute(update(Breed).where(Breed.slug == "pug").values(slug=HOSTILE_BREED))


def test_markdown_escapes_outside_strings(database: Database, seeded: Seeded) -> None:
    make_hostile(database)
    code, out = cli(database, "report", f"{HOSTILE_MODEL}:1-dynamic", "--format", "md")
    assert code == 0, out
    assert md_escape(HOSTILE_MODEL) in out and md_escape(HOSTILE_BREED) in out
    assert "<img" not in out and "<script" not in out
    assert not re.search(r"(?<!\\)\]\(", out)  # no link or image
    # every row of a table has as many cells as its header: no name opened a cell
    for block in re.findall(r"((?:^\|.*\n)+)", out, re.M):
        counts = {len(re.split(r"(?<!\\)\|", row)) for row in block.splitlines()}
        assert len(counts) == 1, block


def test_html_escapes_outside_strings(database: Database, seeded: Seeded, tmp_path: Path) -> None:
    make_hostile(database)
    out = tmp_path / "h.html"
    code, output = cli(
        database, "report", f"{HOSTILE_MODEL}:1-dynamic", "--format", "html", "-o", str(out)
    )
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert "<img src=x" not in text and "<script" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;script&gt;" in text
    assert_self_contained(text)


def test_pictures_are_capped_and_the_rest_named(database: Database, seeded: Seeded) -> None:
    with database.session() as s:
        full = build_report(s, "inception-breeds:1-dynamic", read_thumbnail=database.store.read)
        capped = build_report(
            s, "inception-breeds:1-dynamic", read_thumbnail=database.store.read, max_images=1
        )
    (a,) = capped.comparisons
    assert len(a.broken) > 1 and len(a.fixed) > 1
    text = render(capped, "html")
    kinds = [i.get("data-kind") for i in parse(text).images]
    assert kinds.count("broken") == 1 and kinds.count("fixed") == 1
    assert kinds.count("confusion") == len([c for c in capped.confusions if c.example])
    assert len(parse(render(full, "html")).images) > len(kinds)
    for p in a.broken[1:]:
        assert f"#{p.image_id}" in text.split("Not shown:", 1)[1]
    assert set(capped.thumbnails) < set(full.thumbnails)


def test_a_missing_thumbnail_does_not_fail_the_report(database: Database, seeded: Seeded) -> None:
    with database.session() as s:
        report = build_report(s, "inception-breeds:1-dynamic", read_thumbnail=database.store.read)
        shown = next(iter(report.thumbnails))
        thumb = s.scalar(select(Image.thumb_path).where(Image.id == shown))
    database.store.absolute(thumb).unlink()
    with database.session() as s:
        again = build_report(s, "inception-breeds:1-dynamic", read_thumbnail=database.store.read)
    assert shown not in again.thumbnails and "no thumbnail" in render(again, "html")


def test_report_dispatch_and_errors(database: Database, seeded: Seeded) -> None:
    code, out = cli(database, "report", "latest", "--format", "json")
    assert code == 0 and json.loads(out)["run"]["id"] == seeded.runs["lite-1"]
    code, out = cli(database, "report", str(seeded.runs["pb-1"]), "--format", "json")
    assert code == 0 and json.loads(out)["run"]["id"] == seeded.runs["pb-1"]
    failures = {
        ("report", "nosuch:1"): "no model version 'nosuch:1'",
        ("report", "12345"): "no evaluation run 12345",
        ("report", "latest", "--against", "inception-breeds:1"): "--against goes with a version",
        ("report", "inception-breeds:1", "--against", "inception-breeds:1"): "itself",
        ("report", "inception-breeds:1", "--format", "pdf"): "--format 'pdf'",
    }
    for args, message in failures.items():
        code, out = cli(database, *args)
        assert code == 1 and message in out, (args, out)


def test_unevaluated_versions(database: Database, seeded: Seeded) -> None:
    with database.session() as s:
        s.execute(delete(EvalRun).where(EvalRun.model_version_id == seeded.parent_id))
    code, out = cli(database, "report", "inception-breeds:1", "--format", "json")
    assert code == 1 and "no finished evaluation yet" in out
    code, out = cli(database, "report", "inception-breeds:1-dynamic", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["comparisons"] == []
    assert "breedbench evaluate inception-breeds:1 " in data["notes"][0]
    with database.session() as s:
        parent = s.get(ModelVersion, seeded.parent_id)
        assert parent is not None
        s.add(
            ModelVersion(
                model_id=parent.model_id, version="0.9", format="frozen_pb", path="models/x.pb",
                sha256="c" * 64, size_bytes=1, spec=dict(parent.spec),
            )
        )  # fmt: skip
    code, out = cli(
        database, "report", "inception-breeds:1-dynamic", "--against", "inception-breeds:0.9"
    )
    assert code == 1 and "--against inception-breeds:0.9: it has no finished evaluation" in out


def test_latest_without_any_run(database: Database) -> None:
    code, out = cli(database, "report", "latest")
    assert code == 1 and "no evaluation run yet" in out
