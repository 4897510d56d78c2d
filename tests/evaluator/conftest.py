"""Evaluator fixtures: a database of accepted synthetic images of the tiny model's classes, and
specs that feed each form of the tiny model (``tiny_models`` is in ``tests/conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from db.database import Database
from db.models import Decision
from db.reviews import record_decision
from evaluator.registry import VersionInfo, register_model
from evaluator.spec import ModelSpec
from tests.factories import insert_image
from tests.modelkit import TinyModels, class_jpeg

PER_CLASS = 6
HARD_TINT = (0.02, 0.3)  # faint class colour: the tiny model gets some wrong
UNCOVERED_SLUG = "maltese_dog"  # a breed the tiny model has no class for


@dataclass(frozen=True)
class EvalSet:
    db: Database
    image_ids: list[int]  # accepted images of the model's classes, by id
    labels: dict[int, int]  # image id → class index
    uncovered_ids: list[int]


def accept(db: Database, image_id: int) -> None:
    with db.session() as s:
        record_decision(s, image_id, "tester", Decision.ACCEPT)


def add_eval_images(
    db: Database, labels: list[str], per_class: int = PER_CLASS, seed: int = 0
) -> EvalSet:
    """Accepted JPEGs of every class (sizes vary: the models resize), plus one pending image
    and one accepted image of a breed outside the labels."""
    ids, truth = [], {}
    n = len(labels)
    for i in range(per_class):
        for c, slug in enumerate(labels):
            w, h = 40 + 7 * ((i + c) % 5), 36 + 5 * (i % 4)
            data = class_jpeg(c, n, seed * 1000 + i, w, h, tint=HARD_TINT)
            image_id = insert_image(db, slug, data=data)
            accept(db, image_id)
            ids.append(image_id)
            truth[image_id] = c
    insert_image(db, labels[0], data=class_jpeg(0, n, 99_999))  # pending: never evaluated
    other = insert_image(db, UNCOVERED_SLUG, data=class_jpeg(1, n, 4242))
    accept(db, other)
    return EvalSet(db, sorted(ids), truth, [other])


@pytest.fixture
def eval_set(database: Database, tiny_models: TinyModels) -> EvalSet:
    return add_eval_images(database, tiny_models.labels)


def classic_spec(tiny: TinyModels, **labels: Any) -> dict[str, Any]:
    return {
        "input": {"tensor": "Cast:0", "kind": "image"},
        "output": {"tensor": "output_node:0", "activation": "probabilities"},
        "labels": {"names": tiny.labels, **labels},
    }


def jpeg_spec(tiny: TinyModels) -> dict[str, Any]:
    return {
        "input": {"tensor": "DecodeJpeg/contents:0", "kind": "jpeg_bytes"},
        "output": {"tensor": "output_node:0"},
        "labels": {"names": tiny.labels},
    }


def batchable_spec(tiny: TinyModels, output: str = "probs:0", **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "tensor": "input:0",
            "kind": "tensor",
            "size": [tiny.size, tiny.size],
            "resize": "tf_bilinear",
            "scale": 1 / 128,
            "offset": -1.0,
        },
        "output": {
            "tensor": output,
            "activation": "logits" if output.startswith("logits") else "probabilities",
        },
        "labels": {"names": tiny.labels},
        **extra,
    }


def lite_spec(tiny: TinyModels, offset: float = -128.0) -> dict[str, Any]:
    """The classic ``.lite`` preset, at the tiny model's size."""
    return {
        "input": {
            "tensor": "Sub",
            "kind": "tensor",
            "size": [tiny.size, tiny.size],
            "resize": "tf_bilinear",
            "scale": 1.0,
            "offset": offset,
        },
        "output": {"tensor": "output_node"},
        "labels": {"names": tiny.labels},
    }


def register(
    db: Database, path: Any, spec: dict[str, Any], name: str = "tiny", version: str = "1", **kw: Any
) -> VersionInfo:
    return register_model(db, path, name, version, ModelSpec.from_dict(spec), **kw)
