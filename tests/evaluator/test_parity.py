"""``parity``: the numbers, the mismatch rule, and the study's mistake caught."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import BreedbenchError
from db.database import Database
from evaluator.parity import (
    Disagreement,
    class_order,
    compare_probabilities,
    expected_agreement,
    list_disagreements,
    mismatch_suspected,
    plan_parity,
    run_parity,
)
from tests.fixtures.evaluation import lite_spec, register
from tests.fixtures.workspace import Workspace
from tests.modelkit import TinyModels


def test_numbers_match_a_hand_computation() -> None:
    pa = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    pb = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    n = compare_probabilities(pa, pb)
    assert n.agree.tolist() == [True, False]
    assert n.abs_diff.tolist() == pytest.approx([0.2 / 3, 0.8 / 3])
    assert n.max_abs_diff == pytest.approx(0.4)
    kl0 = 0.7 * math.log(0.7 / 0.6) + 0.2 * math.log(0.2 / 0.3)
    kl1 = 0.1 * math.log(0.1 / 0.5) + 0.6 * math.log(0.6 / 0.4) + 0.3 * math.log(0.3 / 0.1)
    assert n.kl.tolist() == pytest.approx([kl0, kl1])
    same = compare_probabilities(pa, pa)
    assert same.agree.all() and same.max_abs_diff == 0 and same.kl == pytest.approx([0, 0])
    with pytest.raises(BreedbenchError, match="shapes"):
        compare_probabilities(pa, pb[:, :2])


@pytest.mark.parametrize(
    ("agree", "n", "quantization", "suspected"),
    [
        (98, 100, "dynamic", False),  # the usual small loss
        (80, 100, "dynamic", True),  # upper bound ~87% < 95%
        (80, 100, "int8", False),  # upper bound ~87% ≥ 85%
        (60, 100, None, True),  # unrelated versions: held to the int8 level
        (3, 4, "dynamic", False),  # 4 images say too little to accuse anyone
        (0, 4, "dynamic", True),
        (0, 0, "int8", False),
    ],
)
def test_mismatch_is_called_only_when_the_interval_is_clearly_below(
    agree: int, n: int, quantization: str | None, suspected: bool
) -> None:
    assert mismatch_suspected(agree, n, quantization) is suspected


def test_expected_agreement_orders_the_quantization_types() -> None:
    levels = [expected_agreement(q) for q in ("none", "float16", "dynamic", "int8")]
    assert levels == sorted(levels, reverse=True)
    assert expected_agreement(None) == expected_agreement("int8")


def test_raw_pixels_fed_to_a_sub_input_are_flagged(workspace: Workspace) -> None:
    """The original study's mistake: the .lite cut at Sub fed 0–255 instead of pixels − 128."""
    db, tiny = workspace.db, workspace.tiny
    register(db, tiny.sub_dynamic, lite_spec(tiny, offset=0.0), version="raw-lite")
    register(db, tiny.sub_dynamic, lite_spec(tiny), version="right-lite")
    bad = run_parity(db, "tiny:pb", "tiny:raw-lite")
    assert bad.quantization is None  # registered by hand: no recorded relation
    assert bad.mismatch_suspected
    assert bad.agreement < 0.8 and bad.kl_mean > 0.5
    assert bad.diagnosis is not None and "pixels − 128" in bad.diagnosis
    assert bad.diagnosis_agreement == 1.0
    assert len(bad.disagreements) == round((1 - bad.agreement) * bad.n_images)
    d = bad.disagreements[0]
    assert d.a_label != d.b_label and d.true_breed
    good = run_parity(db, "tiny:pb", "tiny:right-lite")
    assert good.agreement == 1.0 and not good.mismatch_suspected and good.diagnosis is None
    assert good.disagreements == []


def test_parity_is_symmetric_in_the_relation(workspace: Workspace) -> None:
    """Either order finds the conversion that relates the two versions."""
    r = run_parity(workspace.db, workspace.converted["float16"].ref, "tiny:pb", limit=5)
    assert r.quantization == "float16" and r.n_images == 5


def test_different_labels_are_refused(workspace: Workspace) -> None:
    db, tiny = workspace.db, workspace.tiny
    spec = lite_spec(tiny)
    spec["labels"] = {"names": list(reversed(tiny.labels[:3])) + ["boxer"]}
    register(db, tiny.sub_float, spec, version="other-labels")
    with pytest.raises(BreedbenchError, match="different class labels"):
        run_parity(db, "tiny:pb", "tiny:other-labels")


def test_class_order_is_aligned_by_label(workspace: Workspace) -> None:
    """The same classes in another order (labels sorted) compare class by class."""
    db, tiny = workspace.db, workspace.tiny
    spec = lite_spec(tiny)
    spec["labels"] = {"names": tiny.labels, "order": "file"}
    register(db, tiny.sub_float, spec, version="same-order")
    assert run_parity(db, "tiny:pb", "tiny:same-order").agreement == 1.0
    wrong = lite_spec(tiny)
    wrong["labels"] = {"names": tiny.labels, "order": "sorted"}  # claims the sorted order
    register(db, tiny.sub_float, wrong, version="sorted-claim")
    # The labels now name different outputs: agreement collapses, and parity says so.
    assert run_parity(db, "tiny:pb", "tiny:sorted-claim").mismatch_suspected


def test_chunked_run_gives_the_same_result(workspace: Workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import evaluator.parity as parity_mod

    register(
        workspace.db, workspace.tiny.sub_float, lite_spec(workspace.tiny, 0.0), version="chunk-raw"
    )
    whole = run_parity(workspace.db, "tiny:pb", "tiny:chunk-raw")
    monkeypatch.setattr(parity_mod, "CHUNK", 5)
    chunked = run_parity(workspace.db, "tiny:pb", "tiny:chunk-raw")
    assert chunked == whole and whole.n_images > 5


def test_class_order_puts_b_in_a_s_order_and_refuses_other_labels() -> None:
    order = class_order(["pug", "boxer", "beagle"], ["beagle", "pug", "boxer"], "m:a", "m:b")
    assert order == [1, 2, 0]
    pb = np.array([[0.5, 0.2, 0.3]])  # beagle, pug, boxer
    assert pb[:, order].tolist() == [[0.2, 0.3, 0.5]]  # pug, boxer, beagle
    with pytest.raises(BreedbenchError, match=r"m:a and m:b have different class labels \(2 and 3"):
        class_order(["pug", "boxer"], ["pug", "boxer", "beagle"], "m:a", "m:b")


def test_disagreements_are_the_images_whose_top_1_differs() -> None:
    images = [(11, "p/11", "pug"), (12, "p/12", "boxer"), (13, "p/13", "beagle")]
    pa = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    pb = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.1, 0.2, 0.7]])
    assert list_disagreements(images, pa, pb, ["pug", "boxer", "beagle"]) == [
        Disagreement(12, "boxer", "boxer", 0.8, "pug", 0.5)
    ]
    assert list_disagreements(images, pa, pa, ["pug", "boxer", "beagle"]) == []


def test_no_accepted_images_is_refused_before_any_model_loads(
    database: Database, tiny_models: TinyModels
) -> None:
    register(database, tiny_models.sub_float, lite_spec(tiny_models), version="a")
    register(database, tiny_models.sub_float, lite_spec(tiny_models), version="b")
    with pytest.raises(BreedbenchError, match="no accepted images to compare on"):
        plan_parity(database, "tiny:a", "tiny:b", None)


class _ValueSensitiveModel:
    """Stands in for B: expects pixels − 128 in RGB, and its top-1 changes with the colour that
    dominates and with the brightness (so a wrong scale, offset or channel order shows)."""

    def probabilities(self, items: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(items), 24), np.float32)
        for i, x in enumerate(items):
            means = x.reshape(-1, 3).mean(axis=0)
            bucket = int(np.digitize(means.mean(), [-96.0, -64.0, -32.0, 0.0, 32.0, 64.0, 96.0]))
            out[i, int(means.argmax()) + 3 * bucket] = 1.0
        return out


# README: "tries the usual mistakes on B's input (± 128, ÷ 128, ÷ 255, [-1, 1] ↔ 0–255, BGR)".
# Each: what B's spec wrongly feeds (from the right input, pixels − 128), and the fix named.
MISTAKES = {
    "÷ 128": (lambda x: x * 128.0, "x / 128"),
    "÷ 255": (lambda x: x * 255.0, "x / 255"),
    "[-1, 1] fed where 0–255 is expected": (
        lambda x: x / 127.5 - 1.0,
        "(x + 1) × 127.5 (the input expects 0–255)",
    ),
    "0–255 fed where [-1, 1] is expected": (
        lambda x: (x + 1.0) * 127.5,
        "x / 127.5 − 1 (the input expects [-1, 1])",
    ),
    "BGR": (lambda x: x[..., ::-1], "channels reversed (RGB ↔ BGR)"),
    "+ 128": (lambda x: x + 128.0, "x − 128 (the input expects pixels − 128)"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_usual_input_mistake_is_named(mistake: str) -> None:
    from evaluator.parity import _diagnose

    rng = np.random.default_rng(5)
    right = []
    for i in range(48):  # images of every dominant colour and brightness
        img = rng.uniform(-40, 40, (8, 8, 3)).astype(np.float32)
        img[..., i % 3] += 60.0
        img += (i // 3) % 8 * 24.0 - 96.0
        right.append(np.clip(img, -128.0, 127.0))
    model = _ValueSensitiveModel()
    pa = model.probabilities(right)
    wrong_input, named = MISTAKES[mistake]
    fed = [wrong_input(x) for x in right]
    now = float((model.probabilities(fed).argmax(1) == pa.argmax(1)).mean())
    assert now < 0.6, "the mistake must cost agreement for the test to mean anything"
    diagnosis, rate = _diagnose(model, fed, pa, list(range(24)), now)  # type: ignore[arg-type]
    assert (diagnosis, rate) == (named, 1.0)
