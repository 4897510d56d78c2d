"""Conversion benchmark: a MobileNet-sized model to full int8, calibrated on 200 accepted images.

Builds Keras' MobileNetV2 (224×224, 120 classes, random weights: ``weights=None``, nothing is
downloaded), registers it in a fresh database holding accepted synthetic photos of all 120
breeds, and runs ``breedbench convert --quantize int8`` exactly as the CLI does: stratified
selection, preprocessing as the derived spec says, TensorFlow's converter with the representative
dataset, LiteRT check, registration. Prints each phase's time, the total (goal: under 2 minutes)
and the machine. A dynamic-range conversion is timed too, for scale.

    .venv/bin/python bench/convert.py [--calibration 200] [--io uint8]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from machine import describe  # noqa: E402 - bench/ is on sys.path
from PIL import Image as PILImage  # noqa: E402

from core.settings import Settings  # noqa: E402
from db.breeds import stanford_breeds  # noqa: E402
from db.database import open_database  # noqa: E402
from db.images import ImageMeta, add_image  # noqa: E402
from db.models import Breed, Decision  # noqa: E402
from db.provenance import Provenance  # noqa: E402
from db.reviews import record_decision  # noqa: E402
from db.seed import seed_breeds  # noqa: E402
from evaluator.convert import ConversionRequest, convert_version  # noqa: E402
from evaluator.registry import register_model  # noqa: E402
from evaluator.spec import ModelSpec  # noqa: E402


def photo_jpeg(seed: int, width: int = 500, height: int = 375) -> bytes:
    """A photo-sized synthetic JPEG (smooth colour blobs, distinct per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = PILImage.fromarray(small, "RGB").resize((width, height), PILImage.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=int, default=200)
    parser.add_argument("--io", default="float", choices=["float", "int8", "uint8"])
    parser.add_argument("--per-breed", type=int, default=3, help="accepted images per breed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = open_database(Settings(data_dir=root / "data"))
        with db.session() as s:
            seed_breeds(s)
            breeds = [(b.id, b.slug) for b in s.query(Breed).order_by(Breed.position)]
        t = time.perf_counter()
        for k in range(args.per_breed):
            for bid, _slug in breeds:
                with db.session() as s:
                    row = add_image(
                        s,
                        db.store,
                        photo_jpeg(k * 1000 + bid),
                        bid,
                        ImageMeta(Provenance(source="bench")),
                    )
                    record_decision(s, row.id, "bench", Decision.ACCEPT)
        t_images = time.perf_counter() - t
        n_images = args.per_breed * len(breeds)

        t = time.perf_counter()
        import keras

        model = keras.applications.MobileNetV2(
            input_shape=(224, 224, 3), weights=None, classes=len(breeds)
        )
        model_path = root / "mobilenet_v2.keras"
        model.save(model_path)
        t_build = time.perf_counter() - t
        spec = {
            "input": {
                "kind": "tensor",
                "size": [224, 224],
                "resize": "bilinear",
                "scale": 1 / 127.5,
                "offset": -1.0,
            },
            "labels": {"names": [b.slug for b in stanford_breeds()]},
        }
        parent = register_model(db, model_path, "mobilenet", "v2", ModelSpec.from_dict(spec))

        t = time.perf_counter()
        q8 = convert_version(
            db,
            "mobilenet:v2",
            ConversionRequest("int8", io=args.io, calibration=args.calibration),
        )
        t_int8 = time.perf_counter() - t
        t = time.perf_counter()
        dyn = convert_version(db, "mobilenet:v2", ConversionRequest("dynamic"))
        t_dynamic = time.perf_counter() - t
        db.dispose()

    print(f"machine: {describe()}")
    print(
        f"setup: {n_images} accepted images inserted in {t_images:.1f} s; "
        f"MobileNetV2 built in {t_build:.1f} s"
    )
    print(
        f"parent: {parent.format} {parent.size_bytes / 1e6:.1f} MB, "
        f"{model.count_params() / 1e6:.2f} M parameters"
    )
    print(
        f"int8 ({args.io} I/O), {q8.calibration_images} calibration images of "
        f"{q8.calibration_breeds} breeds: {t_int8:.1f} s total (choosing and preprocessing the "
        f"images {q8.calibration_seconds:.1f} s, converter with calibration "
        f"{q8.seconds - q8.calibration_seconds:.1f} s), {q8.version.size_bytes / 1e6:.2f} MB "
        f"({q8.size_ratio:.2f}×)"
    )
    print(
        f"dynamic range: {t_dynamic:.1f} s total, {dyn.version.size_bytes / 1e6:.2f} MB "
        f"({dyn.size_ratio:.2f}×)"
    )
    print(f"goal: int8 conversion under 120 s → {'met' if t_int8 < 120 else 'NOT met'}")


if __name__ == "__main__":
    main()
