"""One workspace per session: accepted images of the tiny model's classes, the classic frozen
graph registered, and a conversion of it in every mode (converting takes ~0.1 s each once
TensorFlow is imported; the tiny model is trained once, in ``tiny_models``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from breedbench.settings import Settings
from db.database import Database, open_database
from db.seed import seed_breeds
from evaluator.convert import ConversionRequest, convert_version
from evaluator.registry import VersionInfo
from tests.evaluator.conftest import EvalSet, add_eval_images, classic_spec, register
from tests.modelkit import TinyModels

PER_CLASS = 8
CALIBRATION = 8

# name → (quantize, io); every one converted from the classic graph cut at Sub.
MODES = {
    "none": ("none", "float"),
    "dynamic": ("dynamic", "float"),
    "float16": ("float16", "float"),
    "int8": ("int8", "float"),
    "int8-int8io": ("int8", "int8"),
    "int8-uint8io": ("int8", "uint8"),
}


@dataclass(frozen=True)
class Workspace:
    db: Database
    settings: Settings
    tiny: TinyModels
    images: EvalSet
    parent: VersionInfo  # tiny:pb, the classic graph fed at Cast:0
    converted: dict[str, VersionInfo]  # MODES key → tiny:<key>

    def cli_base(self) -> list[str]:
        return [
            "--db",
            self.settings.resolved_database_url(),
            "--data-dir",
            str(self.settings.data_dir),
        ]


@pytest.fixture(scope="session")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: TinyModels
) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("compression")
    settings = Settings(data_dir=root / "data", database_url=f"sqlite:///{root / 'bb.db'}")
    db = open_database(settings)
    with db.session() as s:
        seed_breeds(s)
    images = add_eval_images(db, tiny_models.labels, per_class=PER_CLASS)
    parent = register(db, tiny_models.classic_pb, classic_spec(tiny_models), version="pb")
    converted = {
        name: convert_version(
            db,
            "tiny:pb",
            ConversionRequest(quantize=q, io=io, input_tensor="Sub", calibration=CALIBRATION),
            new_version=name,
        ).version
        for name, (q, io) in MODES.items()
    }
    yield Workspace(db, settings, tiny_models, images, parent, converted)
    db.dispose()
