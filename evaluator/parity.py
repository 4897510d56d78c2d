"""Parity: do two versions of a model say the same thing on the same images?

Accuracy alone cannot tell a quantization loss from a preprocessing mistake: both lower top-1. The
direct test is to run both versions on the same accepted images and compare their probability
vectors: top-1 agreement (with a 95 % interval), mean and max absolute probability difference,
KL divergence, and the images where the top-1 differs.

Each quantization type has a usual agreement with its float parent (``EXPECTED_AGREEMENT``). When
even the upper end of the observed interval is below it, parity calls it a likely preprocessing
mismatch — the original study's ``.lite`` was fed raw 0–255 pixels at ``Sub``, where the graph
expects pixels − 128 — and tries the usual mistakes on the second version's inputs (± 128, × or
÷ 128 / 255, [-1, 1] ↔ [0, 255], BGR) to say which one restores agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Breed, Image, ImageStatus
from evaluator.calibration import calibration_image_ids
from evaluator.class_names import class_names
from evaluator.metrics import wilson_interval
from evaluator.pipeline import probabilities
from evaluator.preprocess import preprocess
from evaluator.registry import VersionInfo, get_version, get_version_by_id

# Conservative floors for the top-1 agreement a faithful conversion keeps with its float parent.
# TFLite's post-training quantization guide reports float16 and dynamic range costing well under
# a point of accuracy and full int8 a few points; agreement below these is not quantization noise.
# (The tiny test model keeps 100 % in every mode; the study's dynamic .lite lost 5 points of top-1.)
EXPECTED_AGREEMENT = {"none": 0.99, "float16": 0.98, "dynamic": 0.95, "int8": 0.85}
UNKNOWN_QUANTIZATION = "int8"  # unrelated versions: expect at least the most lossy usual level
MAX_DISAGREEMENTS_SHOWN = 20
DIAGNOSIS_IMAGES = 64
CHUNK = 64  # images prepared and run at a time (>= DIAGNOSIS_IMAGES)
EPS = 1e-7

Variant = Callable[[np.ndarray], np.ndarray]

# What the second version's input would be if its spec had the usual mistakes (v: the values it
# gets now). A variant that restores agreement names the mistake.
INPUT_VARIANTS: dict[str, Variant] = {
    "x − 128 (the input expects pixels − 128)": lambda v: v - 128.0,
    "x + 128": lambda v: v + 128.0,
    "x / 128": lambda v: v / 128.0,
    "x / 255": lambda v: v / 255.0,
    "x / 127.5 − 1 (the input expects [-1, 1])": lambda v: v / 127.5 - 1.0,
    "(x + 1) × 127.5 (the input expects 0–255)": lambda v: (v + 1.0) * 127.5,
    "x × 255": lambda v: v * 255.0,
    "(x − 128) / 128": lambda v: (v - 128.0) / 128.0,
    "channels reversed (RGB ↔ BGR)": lambda v: v[..., ::-1],
}


@dataclass(frozen=True)
class Disagreement:
    """An image whose top-1 differs; each label as people read it (``class_name``: ImageNet's
    ``n03937543 pill bottle`` shows as ``pill bottle (n03937543)``)."""

    image_id: int
    true_breed: str
    a_label: str
    a_prob: float
    b_label: str
    b_prob: float


@dataclass(frozen=True)
class ParityResult:
    a: str  # NAME:VERSION
    b: str
    n_images: int
    agreement: float  # top-1
    agreement_ci95: tuple[float, float]
    mean_abs_diff: float  # mean over images and classes of |pA − pB|
    max_abs_diff: float
    kl_mean: float  # KL(A ‖ B), mean over images
    kl_max: float
    quantization: str | None  # of the conversion relating them, if any
    expected_agreement: float
    mismatch_suspected: bool
    diagnosis: str | None = None  # the input variant that restores agreement, if one does
    diagnosis_agreement: float | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    excluded_calibration: int = 0

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


# --- the numbers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityNumbers:
    agree: np.ndarray  # bool per image
    abs_diff: np.ndarray  # per image: mean |pA − pB|
    max_abs_diff: float
    kl: np.ndarray  # per image


def compare_probabilities(pa: np.ndarray, pb: np.ndarray) -> ParityNumbers:
    """Pure numbers from two ``(images, classes)`` probability arrays in the same class order."""
    if pa.shape != pb.shape:
        raise BreedbenchError(f"cannot compare outputs of shapes {pa.shape} and {pb.shape}")
    a = np.clip(pa.astype(np.float64), EPS, 1.0)
    b = np.clip(pb.astype(np.float64), EPS, 1.0)
    a /= a.sum(axis=1, keepdims=True)
    b /= b.sum(axis=1, keepdims=True)
    diff = np.abs(pa.astype(np.float64) - pb.astype(np.float64))
    return ParityNumbers(
        agree=pa.argmax(axis=1) == pb.argmax(axis=1),
        abs_diff=diff.mean(axis=1),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        kl=(a * np.log(a / b)).sum(axis=1),
    )


def expected_agreement(quantization: str | None) -> float:
    return EXPECTED_AGREEMENT.get(quantization or UNKNOWN_QUANTIZATION, EXPECTED_AGREEMENT["int8"])


def mismatch_suspected(agree: int, n: int, quantization: str | None) -> bool:
    """True when even the upper end of the 95 % interval is below the usual agreement: too far
    below to be the quantization's own loss."""
    if n == 0:
        return False
    return wilson_interval(agree, n)[1] < expected_agreement(quantization)


# --- running both versions --------------------------------------------------------------------


class _Model:
    """One loaded version: its runner, its spec and its class order."""

    def __init__(self, db: Database, version: VersionInfo, threads: int | None) -> None:
        self.version = version
        self.spec = version.spec
        self.labels = self.spec.class_labels
        self.runner = version.open(db.settings).runner(self.spec, threads)

    def inputs(self, blobs: Sequence[bytes]) -> list[Any]:
        """What the evaluation feeds: prepared, then normalised (any-size images too)."""
        return [preprocess(b, self.spec.input) for b in blobs]

    def probabilities(self, items: Sequence[Any]) -> np.ndarray:
        rows = []
        step = max(1, self.runner.max_batch)
        for i in range(0, len(items), step):
            rows.append(self.runner.predict(list(items[i : i + step])))
        out = np.concatenate(rows) if rows else np.zeros((0, len(self.labels)), np.float32)
        return probabilities(out, self.spec)

    def close(self) -> None:
        self.runner.close()


def relation(db: Database, a: VersionInfo, b: VersionInfo) -> str | None:
    """The quantization that relates the two versions: B converted (directly or through its
    ancestors) from A, or A from B; None for unrelated versions."""
    for child, parent in ((b, a), (a, b)):
        node: VersionInfo | None = child
        while node is not None and node.parent_id is not None:
            if node.parent_id == parent.id:
                return str((child.conversion or {}).get("quantize", "none"))
            with db.session() as s:
                node = get_version_by_id(s, node.parent_id)
    return None


def parity_images(
    db: Database, versions: Sequence[VersionInfo], limit: int | None
) -> tuple[list[tuple[int, str, str]], int]:
    """Accepted images (id, store path, breed slug), minus the calibration images of either
    version; and how many of those were left out."""
    with db.session() as s:
        rows = s.execute(
            select(Image.id, Image.path, Breed.slug)
            .join(Breed, Breed.id == Image.breed_id)
            .where(Image.status == ImageStatus.ACCEPTED)
            .order_by(Image.id)
        ).all()
        calib: set[int] = set()
        for v in versions:
            calib |= calibration_image_ids(s, v.id)
    kept = [(i, p, slug) for i, p, slug in rows if i not in calib]
    excluded = len(rows) - len(kept)
    if limit is not None:
        kept = kept[:limit]
    return kept, excluded


@dataclass(frozen=True)
class ParityPlan:
    """The two versions, the images both run on, and what relates the versions."""

    a: VersionInfo
    b: VersionInfo
    images: list[tuple[int, str, str]]  # (image id, store path, true breed slug)
    excluded_calibration: int
    quantization: str | None


@dataclass(frozen=True)
class ParityOutputs:
    """Both versions' probabilities, A's class order, one row per image."""

    a: np.ndarray
    b: np.ndarray
    first_b_inputs: list[Any]  # B's inputs of the first chunk, for the diagnosis


def run_parity(
    db: Database,
    ref_a: str,
    ref_b: str,
    *,
    limit: int | None = None,
    threads: int | None = None,
    diagnose: bool = True,
) -> ParityResult:
    """Run both versions on the same accepted images and compare them."""
    plan = plan_parity(db, ref_a, ref_b, limit)
    with ExitStack() as models:
        ma = models.enter_context(closing(_Model(db, plan.a, threads)))
        mb = models.enter_context(closing(_Model(db, plan.b, threads)))
        order = class_order(ma.labels, mb.labels, plan.a.ref, plan.b.ref)
        out = run_both(db, plan.images, ma, mb, order)
        nums = compare_probabilities(out.a, out.b)
        n, agree = len(plan.images), int(nums.agree.sum())
        suspected = mismatch_suspected(agree, n, plan.quantization)
        diagnosis: tuple[str | None, float | None] = (None, None)
        if suspected and diagnose:
            diagnosis = _diagnose(mb, out.first_b_inputs, out.a, order, agree / n)
    return ParityResult(
        a=plan.a.ref,
        b=plan.b.ref,
        n_images=n,
        agreement=agree / n,
        agreement_ci95=wilson_interval(agree, n),
        mean_abs_diff=float(nums.abs_diff.mean()),
        max_abs_diff=nums.max_abs_diff,
        kl_mean=float(nums.kl.mean()),
        kl_max=float(nums.kl.max()),
        quantization=plan.quantization,
        expected_agreement=expected_agreement(plan.quantization),
        mismatch_suspected=suspected,
        diagnosis=diagnosis[0],
        diagnosis_agreement=diagnosis[1],
        disagreements=list_disagreements(plan.images, out.a, out.b, _shown(db, ma.labels)),
        excluded_calibration=plan.excluded_calibration,
    )


def _shown(db: Database, labels: Sequence[str]) -> list[str]:
    with db.session() as s:
        return class_names(s, labels)


def plan_parity(db: Database, ref_a: str, ref_b: str, limit: int | None) -> ParityPlan:
    """Both versions, the images to compare them on, and the conversion relating them.

    Raises ``BreedbenchError`` when no accepted image is left to compare on.
    """
    with db.session() as s:
        va, vb = get_version(s, ref_a), get_version(s, ref_b)
    for v in (va, vb):
        if v.is_detector:
            raise BreedbenchError(f"{v.ref} is a detector: parity compares classifiers' outputs")
    images, excluded = parity_images(db, [va, vb], limit)
    if not images:
        raise BreedbenchError(
            "no accepted images to compare on: accept some images first (breedbench review)"
        )
    return ParityPlan(va, vb, images, excluded, relation(db, va, vb))


def class_order(
    labels_a: Sequence[str], labels_b: Sequence[str], ref_a: str, ref_b: str
) -> list[int]:
    """For each of A's classes, the index of the same label among B's outputs: B's outputs put
    in A's order compare class by class. Different label sets are refused."""
    if sorted(labels_a) != sorted(labels_b):
        raise BreedbenchError(
            f"{ref_a} and {ref_b} have different class labels "
            f"({len(labels_a)} and {len(labels_b)}): parity compares the same classifier"
        )
    return [list(labels_b).index(label) for label in labels_a]


def run_both(
    db: Database,
    images: Sequence[tuple[int, str, str]],
    ma: _Model,
    mb: _Model,
    order: list[int],
) -> ParityOutputs:
    """Both versions' probabilities on the same images, B's columns in A's class order.

    In chunks: thousands of prepared 299×299 inputs would not fit in memory at once.
    """
    chunks_a, chunks_b, first_xb = [], [], None
    for start in range(0, len(images), CHUNK):
        blobs = [db.store.read(path) for _, path, _ in images[start : start + CHUNK]]
        xb = mb.inputs(blobs)
        first_xb = xb if first_xb is None else first_xb
        chunks_a.append(ma.probabilities(ma.inputs(blobs)))
        chunks_b.append(mb.probabilities(xb)[:, order])
    return ParityOutputs(np.concatenate(chunks_a), np.concatenate(chunks_b), first_xb or [])


def list_disagreements(
    images: Sequence[tuple[int, str, str]], pa: np.ndarray, pb: np.ndarray, labels: Sequence[str]
) -> list[Disagreement]:
    """The images whose top-1 differs, in image order, with what each version said."""
    differ = pa.argmax(axis=1) != pb.argmax(axis=1)
    return [
        Disagreement(
            image_id=images[i][0],
            true_breed=images[i][2],
            a_label=labels[int(pa[i].argmax())],
            a_prob=float(pa[i].max()),
            b_label=labels[int(pb[i].argmax())],
            b_prob=float(pb[i].max()),
        )
        for i in np.flatnonzero(differ)
    ]


def _diagnose(
    mb: _Model, xb: Sequence[Any], pa: np.ndarray, order: list[int], current: float
) -> tuple[str | None, float | None]:
    """The input variant of B that agrees best with A, if it agrees clearly better than now."""
    if not xb or isinstance(xb[0], bytes):
        return None, None
    k = min(len(xb), DIAGNOSIS_IMAGES)
    base = [np.asarray(x, dtype=np.float32) for x in xb[:k]]
    best: tuple[str | None, float] = (None, current)
    for name, fn in INPUT_VARIANTS.items():
        try:
            p = mb.probabilities([fn(x) for x in base])[:, order]
        except (ValueError, RuntimeError, BreedbenchError):
            continue
        rate = float((p.argmax(axis=1) == pa[:k].argmax(axis=1)).mean())
        if rate > best[1]:
            best = (name, rate)
    if best[0] is None or best[1] < current + 0.2:
        return None, None
    return best
