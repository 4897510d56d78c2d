"""The model spec: how to feed a model file and how to read its output.

Written by people as TOML (``--spec``), or taken from a preset (``--preset``), and stored with
the version (``model_versions.spec``) as the dict ``ModelSpec.to_dict`` writes and
``ModelSpec.from_dict`` reads back: past that edge, code sees only the typed ``ModelSpec``.
The labels are copied into the spec (``labels.names``) at registration, so a stored version never
depends on a file that may move. Every mistake is a ``BreedbenchError`` naming the key to fix.

    format = "frozen_pb"        # or "tflite"; inferred from the file when omitted
    [input]
    tensor = "input:0"
    kind = "tensor"             # "jpeg_bytes" | "image" (uint8 HWC, any size) | "tensor" (NHWC)
    size = [224, 224]           # kind = "tensor": [height, width]
    resize = "bicubic"          # "tf_bilinear" | "bilinear" | "bicubic"
    resize_shorter = 256        # optional: shorter side to this, then centre-crop to size
    scale = 0.00784313725       # x * scale + offset after resizing (or mean = [...], std = [...])
    offset = -1.0
    dtype = "uint8"             # optional check: the model's input must take this type
    [output]
    tensor = "Identity:0"
    activation = "logits"       # "logits" | "probabilities"
    [labels]
    file = "labels.txt"         # one label per line, or a CSV with `column`
    column = "breed"            # CSV only
    order = "file"              # "file" | "sorted"
    match = "name"              # "name" | "synset"
    restrict_to_breeds = false
    [runtime]
    batch = 32                  # largest batch when the model accepts batches
    threads = 2                 # inference threads (default: all cores)

A detector (``kind = "detector"``, evaluated only as ``evaluate CLASSIFIER --crop DETECTOR``)
has an ``[input]`` like a classifier's, no ``[output]`` or ``[labels]``, and a ``[detector]``
table naming its outputs (``evaluator.detection`` reads them):

    kind = "detector"
    [detector]
    boxes = "..."               # [1, N, 4] normalised boxes
    classes = "..."             # [1, N] class ids
    scores = "..."              # [1, N]
    count = "..."               # [1], optional
    box_order = "yxyx"          # or "xyxy"
    dog_classes = [17]          # the ids that mean "dog" in this model's label map
    min_score = 0.3
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from evaluator.label_file import read_label_file

FORMATS = ("frozen_pb", "tflite", "saved_model", "keras")
INPUT_KINDS = ("jpeg_bytes", "image", "tensor")
RESIZE_MODES = ("tf_bilinear", "bilinear", "bicubic")
ACTIVATIONS = ("logits", "probabilities")
LABEL_ORDERS = ("file", "sorted")
LABEL_MATCHES = ("name", "synset")
DTYPES = ("float32", "uint8", "int8")
MODEL_KINDS = ("classifier", "detector")
BOX_ORDERS = ("yxyx", "xyxy")
PRESETS_DIR = Path(__file__).parent / "presets"


@dataclass(frozen=True)
class InputSpec:
    tensor: str | None = None  # None: the model's first input (LiteRT)
    kind: str = "tensor"
    size: tuple[int, int] | None = None  # (height, width)
    resize: str = "bilinear"
    resize_shorter: int | None = None
    scale: float | None = None
    offset: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    tensor: str | None = None
    activation: str = "probabilities"


@dataclass(frozen=True)
class LabelsSpec:
    file: str | None = None
    column: str | None = None
    order: str = "file"
    match: str = "name"
    restrict_to_breeds: bool = False
    names: tuple[str, ...] = ()  # the labels as read from ``file``, in file order


@dataclass(frozen=True)
class RuntimeSpec:
    batch: int | None = None
    threads: int | None = None


@dataclass(frozen=True)
class DetectorSpec:
    """Where a detector puts its boxes, and which of its classes are dogs."""

    boxes: str
    classes: str
    scores: str
    count: str | None = None
    box_order: str = "yxyx"
    dog_classes: tuple[int, ...] = ()
    min_score: float = 0.3


@dataclass(frozen=True)
class ModelSpec:
    format: str | None = None
    input: InputSpec = field(default_factory=InputSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    labels: LabelsSpec = field(default_factory=LabelsSpec)
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    kind: str = "classifier"
    detector: DetectorSpec | None = None  # kind = "detector" only

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> ModelSpec:
        """Validate a spec dict; ``base_dir`` resolves a relative ``labels.file`` (and reads it)."""
        data = copy.deepcopy(data)
        allowed = {"format", "input", "output", "labels", "runtime", "preset", "kind", "detector"}
        _only(data, allowed, "the spec")
        data.pop("preset", None)
        fmt = data.get("format")
        if fmt is not None:
            _choice(fmt, FORMATS, "format")
        kind = _choice(data.get("kind", "classifier"), MODEL_KINDS, "kind")
        detector = None
        if kind == "detector":
            for key in ("output", "labels"):
                if data.get(key):
                    raise BreedbenchError(
                        f"spec: a detector has no [{key}]; its outputs go in [detector]"
                    )
            detector = _detector(_table(data, "detector"))
        elif "detector" in data:
            raise BreedbenchError('spec: [detector] needs kind = "detector"')
        if kind == "detector" and _table(data, "input").get("kind") == "jpeg_bytes":
            raise BreedbenchError(
                'spec: a detector takes pixels: input.kind = "jpeg_bytes" cannot be'
            )
        spec = cls(
            format=fmt,
            input=_input(_table(data, "input")),
            output=_output(_table(data, "output")),
            labels=_labels(_table(data, "labels"), base_dir),
            runtime=_runtime(_table(data, "runtime")),
            kind=kind,
            detector=detector,
        )
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The JSON/TOML-able form stored in ``model_versions.spec`` (None values left out; a
        classifier's spec reads as it did before detectors existed)."""
        out = _drop_none(asdict(self))
        if self.kind == "classifier":
            out.pop("kind", None)
        else:
            out.pop("output", None)
            out.pop("labels", None)
        return out

    @property
    def is_detector(self) -> bool:
        return self.kind == "detector"

    def with_overrides(self, override: dict[str, Any]) -> ModelSpec:
        """``override`` (a partial spec as a TOML gives it) on top, table by table, checked like
        any spec: a person can fix what a derivation got wrong without restating the rest."""
        return ModelSpec.from_dict(merge(self.to_dict(), override))

    @property
    def class_labels(self) -> list[str]:
        """Labels in the order of the model's outputs."""
        names = list(self.labels.names)
        return sorted(names) if self.labels.order == "sorted" else names


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise BreedbenchError(f"spec: [{key}] must be a table, got {value!r}")
    return value


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BreedbenchError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _choice(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise BreedbenchError(f"spec: {key} = {value!r}; expected one of {', '.join(choices)}")
    return value


def _positive_int(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BreedbenchError(f"spec: {key} must be a positive integer, got {value!r}")
    return value


def _number(value: Any, key: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BreedbenchError(f"spec: {key} must be a number, got {value!r}")
    return float(value)


def _input(t: dict[str, Any]) -> InputSpec:
    allowed = {"tensor", "kind", "size", "resize", "resize_shorter", "scale", "offset"}
    _only(t, allowed | {"mean", "std", "dtype"}, "spec [input]")
    kind = _choice(t.get("kind", "tensor"), INPUT_KINDS, "input.kind")
    size = t.get("size")
    if size is not None:
        if not (isinstance(size, list | tuple) and len(size) == 2):
            raise BreedbenchError(f"spec: input.size must be [height, width], got {size!r}")
        size = (_positive_int(size[0], "input.size"), _positive_int(size[1], "input.size"))
    if kind == "tensor" and size is None:
        raise BreedbenchError('spec: input.kind = "tensor" needs input.size = [height, width]')
    shorter = t.get("resize_shorter")
    if shorter is not None:
        shorter = _positive_int(shorter, "input.resize_shorter")
        if kind != "tensor":
            raise BreedbenchError('spec: input.resize_shorter applies to kind = "tensor" only')
    mean, std = t.get("mean"), t.get("std")
    if (mean is None) != (std is None):
        raise BreedbenchError("spec: input.mean and input.std go together")
    if mean is not None and ("scale" in t or "offset" in t):
        raise BreedbenchError("spec: give input.scale/offset or input.mean/std, not both")
    if mean is not None:
        mean = tuple(_number(v, "input.mean") for v in _as_list(mean, "input.mean"))
        std = tuple(_number(v, "input.std") for v in _as_list(std, "input.std"))
        if len(mean) not in (1, 3) or len(std) not in (1, 3) or any(s == 0 for s in std):
            raise BreedbenchError("spec: input.mean/std need 1 or 3 values, std non-zero")
    tensor = t.get("tensor")
    if tensor is not None and (not isinstance(tensor, str) or not tensor):
        raise BreedbenchError(f"spec: input.tensor must be a tensor name, got {tensor!r}")
    dtype = t.get("dtype")
    if dtype is not None:
        _choice(dtype, DTYPES, "input.dtype")
    return InputSpec(
        tensor=tensor,
        kind=kind,
        size=size,
        resize=_choice(t.get("resize", "bilinear"), RESIZE_MODES, "input.resize"),
        resize_shorter=shorter,
        scale=None if "scale" not in t else _number(t["scale"], "input.scale"),
        offset=None if "offset" not in t else _number(t["offset"], "input.offset"),
        mean=mean,
        std=std,
        dtype=dtype,
    )


def _as_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, int | float):
        return [value]
    if not isinstance(value, list | tuple):
        raise BreedbenchError(f"spec: {key} must be a number or a list, got {value!r}")
    return list(value)


def _output(t: dict[str, Any]) -> OutputSpec:
    _only(t, {"tensor", "activation"}, "spec [output]")
    tensor = t.get("tensor")
    if tensor is not None and (not isinstance(tensor, str) or not tensor):
        raise BreedbenchError(f"spec: output.tensor must be a tensor name, got {tensor!r}")
    act = _choice(t.get("activation", "probabilities"), ACTIVATIONS, "output.activation")
    return OutputSpec(tensor=tensor, activation=act)


def _labels(t: dict[str, Any], base_dir: Path | None) -> LabelsSpec:
    _only(t, {"file", "column", "order", "match", "restrict_to_breeds", "names"}, "spec [labels]")
    names = t.get("names")
    file = t.get("file")
    if names is None and file is not None and base_dir is not None:
        path = Path(file)
        if not path.is_absolute():
            path = base_dir / path
        names = read_label_file(path, t.get("column"))
    if names is not None and (
        not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names)
    ):
        raise BreedbenchError("spec: labels.names must be a list of strings")
    restrict = t.get("restrict_to_breeds", False)
    if not isinstance(restrict, bool):
        raise BreedbenchError("spec: labels.restrict_to_breeds must be true or false")
    return LabelsSpec(
        file=file,
        column=t.get("column"),
        order=_choice(t.get("order", "file"), LABEL_ORDERS, "labels.order"),
        match=_choice(t.get("match", "name"), LABEL_MATCHES, "labels.match"),
        restrict_to_breeds=restrict,
        names=tuple(names or ()),
    )


def _detector(t: dict[str, Any]) -> DetectorSpec:
    keys = {"boxes", "classes", "scores", "count", "box_order", "dog_classes", "min_score"}
    _only(t, keys, "spec [detector]")
    names = {}
    for key in ("boxes", "classes", "scores", "count"):
        value = t.get(key)
        if value is None and key != "count":
            raise BreedbenchError(f"spec: detector.{key} must name the model's {key} output")
        if value is not None and (not isinstance(value, str) or not value):
            raise BreedbenchError(f"spec: detector.{key} must be a tensor name, got {value!r}")
        names[key] = value
    dogs = t.get("dog_classes")
    if (
        not isinstance(dogs, list | tuple)
        or not dogs
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dogs)
    ):
        raise BreedbenchError(
            f"spec: detector.dog_classes must list the class ids that mean dog (e.g. [17]), "
            f"got {dogs!r}"
        )
    min_score = _number(t.get("min_score", 0.3), "detector.min_score")
    if not 0.0 <= min_score <= 1.0:
        raise BreedbenchError(f"spec: detector.min_score must be in [0, 1], got {min_score}")
    return DetectorSpec(
        boxes=names["boxes"],
        classes=names["classes"],
        scores=names["scores"],
        count=names["count"],
        box_order=_choice(t.get("box_order", "yxyx"), BOX_ORDERS, "detector.box_order"),
        dog_classes=tuple(dogs),
        min_score=min_score,
    )


def _runtime(t: dict[str, Any]) -> RuntimeSpec:
    _only(t, {"batch", "threads"}, "spec [runtime]")
    batch = t.get("batch")
    threads = t.get("threads")
    return RuntimeSpec(
        batch=None if batch is None else _positive_int(batch, "runtime.batch"),
        threads=None if threads is None else _positive_int(threads, "runtime.threads"),
    )


# --- files and presets ------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise BreedbenchError(f"spec file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BreedbenchError(f"spec file {path} is not valid TOML: {exc}") from None


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.toml"
    if not path.is_file():
        raise BreedbenchError(f"no preset {name!r}; presets: {', '.join(preset_names())}")
    return path


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, table by table. Setting ``labels.file`` drops the
    base's copied ``labels.names``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    if "file" in override.get("labels", {}) and "names" not in override.get("labels", {}):
        out.get("labels", {}).pop("names", None)
    return out


def load_spec(
    spec_file: Path | None = None,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> ModelSpec:
    """A preset, then a spec file, then ``overrides``, each on top of the one before.

    A relative ``labels.file`` is read relative to the file that names it (the preset's folder
    for a preset's ``breeds.csv``).
    """
    data: dict[str, Any] = {}
    base_dir: Path | None = None
    if preset is not None:
        path = preset_path(preset)
        data = read_spec_file(path)
        base_dir = path.parent
    if spec_file is not None:
        spec_file = Path(spec_file)
        data = merge(data, read_spec_file(spec_file))
        base_dir = spec_file.parent
    if overrides:
        data = merge(data, overrides)
    return ModelSpec.from_dict(data, base_dir=base_dir or Path.cwd())


def read_spec_file(path: Path) -> dict[str, Any]:
    """A spec TOML as a dict, its relative ``labels.file`` read from the TOML's own folder into
    ``labels.names`` (the dict is merged elsewhere, where that folder is no longer known)."""
    path = Path(path)
    data = read_toml(path)
    labels = data.get("labels")
    if isinstance(labels, dict) and labels.get("file") and "names" not in labels:
        file = Path(labels["file"])
        labels["names"] = read_label_file(
            file if file.is_absolute() else path.parent / file, labels.get("column")
        )
    return data


def preprocessing_hash(spec: ModelSpec, crop_key: str | None = None) -> str:
    """What determines the cached tensor of an image (the normalisation is applied after);
    ``crop_key``: the detector, margin and policy a cropped run crops with."""
    i = spec.input
    key: dict[str, Any] = {
        "v": 1,
        "kind": i.kind,
        "size": i.size,
        "resize": i.resize,
        "resize_shorter": i.resize_shorter,
    }
    if crop_key is not None:
        key["crop"] = crop_key
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
