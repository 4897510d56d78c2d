"""The model registry: a version is a checked copy of a model file plus its spec.

``register_model`` refuses what it cannot evaluate before anything is written: a file that is no
model (or a truncated one), a GraphDef with file-system or Python ops (unless allowed), a spec
whose tensor names are not in the model (the error lists the real inputs and outputs), labels
that match no breed, an output size that disagrees with the labels. The file is then copied to
``<data dir>/models/<sha256>.<ext>`` (the same bytes are stored once) and the version row
written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.settings import Settings
from db.database import Database
from db.models import Model, ModelVersion
from evaluator.labels import build_label_map
from evaluator.spec import ModelSpec

TFLITE_IDENTIFIER = b"TFL3"
EXTENSIONS = {"frozen_pb": ".pb", "tflite": ".tflite", "keras": ".keras", "saved_model": ""}


@dataclass(frozen=True)
class VersionInfo:
    id: int
    model_id: int
    model_name: str
    version: str
    format: str
    path: str  # as stored: relative to the data dir
    sha256: str
    size_bytes: int
    spec: dict[str, Any]
    parent_id: int | None
    conversion: dict[str, Any] | None
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.model_name}:{self.version}"

    def model_spec(self) -> ModelSpec:
        return ModelSpec.from_dict(self.spec)

    def file(self, settings: Settings) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else settings.data_dir / p


def version_info(model: Model, v: ModelVersion) -> VersionInfo:
    return VersionInfo(
        id=v.id,
        model_id=model.id,
        model_name=model.name,
        version=v.version,
        format=v.format,
        path=v.path,
        sha256=v.sha256,
        size_bytes=v.size_bytes,
        spec=dict(v.spec or {}),
        parent_id=v.parent_id,
        conversion=v.conversion,
        created_at=v.created_at,
    )


# --- what kind of file is it? ------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """frozen_pb | tflite | saved_model | keras, from the content (the suffix only for .pb)."""
    path = Path(path)
    if not path.exists():
        raise BreedbenchError(f"model file not found: {path}")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "saved_model"
        raise BreedbenchError(f"{path} is a folder but not a SavedModel (no saved_model.pb)")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head[4:8] == TFLITE_IDENTIFIER:
        return "tflite"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if "config.json" in zf.namelist():
                return "keras"
        raise BreedbenchError(f"{path} is a zip file but not a .keras model (no config.json)")
    if path.suffix.lower() in (".tflite", ".lite"):
        raise BreedbenchError(
            f"{path} is not a TFLite model: no 'TFL3' identifier (corrupted or another format)"
        )
    if path.stat().st_size == 0:
        raise BreedbenchError(f"{path} is empty, not a model")
    return "frozen_pb"  # the GraphDef parser decides


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(file_sha256(f).encode())
        return h.hexdigest()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --- checks -------------------------------------------------------------------------------------


def check_model(
    path: Path, fmt: str, spec: ModelSpec, n_labels: int, *, allow_unsafe_ops: bool = False
) -> None:
    """Refuse what cannot be evaluated as specified; cheap (no inference for ``.pb``)."""
    if fmt == "frozen_pb":
        _check_frozen_pb(path, spec, allow_unsafe_ops)
    elif fmt == "tflite":
        _check_tflite(path, spec, n_labels)


def _check_frozen_pb(path: Path, spec: ModelSpec, allow_unsafe_ops: bool) -> None:
    from evaluator.runners import frozen_graph as fg

    gd = fg.parse_graph_def(path.read_bytes())
    bad = fg.unsafe_ops(gd)
    if bad and not allow_unsafe_ops:
        raise BreedbenchError(
            f"{path} contains ops that read or write files or run Python: {', '.join(bad)}. "
            "Refused: a model should only compute. Pass --allow-unsafe-ops if you trust it"
        )
    if not spec.input.tensor or not spec.output.tensor:
        raise BreedbenchError(
            f"the spec of a frozen graph needs input.tensor and output.tensor; {fg.describe_io(gd)}"
        )
    fg.check_tensor_names(gd, [spec.input.tensor, spec.output.tensor], str(path))
    name = spec.input.tensor.split(":")[0]
    for node in gd.node:
        if node.name == name and node.op == "Placeholder":
            _check_size(spec, fg._shape(node), spec.input.tensor)


def _check_size(spec: ModelSpec, shape: list[int | None] | None, tensor: str) -> None:
    """A fixed NHWC input must be the spec's size: say both instead of failing mid-run."""
    size = spec.input.size
    if spec.input.kind != "tensor" or size is None or shape is None or len(shape) != 4:
        return
    h, w = shape[1], shape[2]
    if h is not None and w is not None and h > 0 and w > 0 and (h, w) != tuple(size):
        raise BreedbenchError(
            f"the model's input {tensor} takes {h}×{w} images but the spec says "
            f"input.size = [{size[0]}, {size[1]}]"
        )


def _check_tflite(path: Path, spec: ModelSpec, n_labels: int) -> None:
    import numpy as np

    from evaluator.runners import litert
    from evaluator.runners.base import check_dtype

    interp = litert.open_interpreter(path)
    try:
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise BreedbenchError(f"{path}: LiteRT cannot prepare the model: {exc}") from None
    inp = litert.find_detail(interp.get_input_details(), spec.input.tensor, interp, "input")
    out = litert.find_detail(interp.get_output_details(), spec.output.tensor, interp, "output")
    check_dtype(spec.input.dtype, np.dtype(inp["dtype"]).name, inp["name"])
    signature = inp.get("shape_signature", inp["shape"])
    _check_size(spec, [None if int(d) < 0 else int(d) for d in signature], inp["name"])
    shape = [int(d) for d in out["shape"]]
    in_shape = [int(d) for d in inp["shape"]]
    in_batch = in_shape[0] if len(in_shape) == 4 and in_shape[0] > 0 else 1
    per_image = int(np.prod(shape)) // in_batch
    if per_image != n_labels:
        raise BreedbenchError(
            f"the model's output {out['name']} has {per_image} values per image "
            f"(shape {shape}) but the labels list {n_labels} classes"
        )


# --- registering ----------------------------------------------------------------------------


def register_model(
    db: Database,
    path: Path,
    name: str,
    version: str,
    spec: ModelSpec,
    *,
    parent_id: int | None = None,
    conversion: dict[str, Any] | None = None,
    allow_unsafe_ops: bool = False,
) -> VersionInfo:
    """Check the file and spec, copy the file into the data dir, record the version."""
    path = Path(path)
    name, version = name.strip(), version.strip()
    if not name or not version or ":" in name:
        raise BreedbenchError("a model needs a --name (without ':') and a --version")
    fmt = detect_format(path)
    if spec.format is not None and spec.format != fmt:
        raise BreedbenchError(f"the spec says format = {spec.format!r} but {path} is {fmt}")
    with db.session() as s:
        if _find_version(s, name, version) is not None:
            raise BreedbenchError(f"{name}:{version} is already registered")
        label_map = build_label_map(s, spec)
    check_model(path, fmt, spec, len(label_map.labels), allow_unsafe_ops=allow_unsafe_ops)
    digest = file_sha256(path)
    rel = _copy_into_store(path, db.settings, digest, fmt)
    stored = {**spec.to_dict(), "format": fmt}
    with db.session() as s:
        model = s.scalar(select(Model).where(Model.name == name))
        if model is None:
            model = Model(name=name)
            s.add(model)
            s.flush()
        row = ModelVersion(
            model_id=model.id,
            version=version,
            format=fmt,
            path=rel,
            sha256=digest,
            size_bytes=_size(path),
            spec=stored,
            parent_id=parent_id,
            conversion=conversion,
        )
        s.add(row)
        s.flush()
        return version_info(model, row)


def _copy_into_store(path: Path, settings: Settings, digest: str, fmt: str) -> str:
    rel = f"models/{digest}{EXTENSIONS[fmt]}"
    target = settings.data_dir / rel
    if target.exists():
        return rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        shutil.copytree(path, tmp, dirs_exist_ok=True)
        os.replace(tmp, target)
    else:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp_name)
        os.replace(tmp_name, target)
    return rel


# --- reading ----------------------------------------------------------------------------------


def _find_version(s: Session, name: str, version: str | None) -> tuple[Model, ModelVersion] | None:
    stmt = select(Model, ModelVersion).join(ModelVersion).where(Model.name == name)
    if version is not None:
        stmt = stmt.where(ModelVersion.version == version)
    row = s.execute(stmt.order_by(ModelVersion.id.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1])


def get_version(session: Session, ref: str) -> VersionInfo:
    """``NAME:VERSION``, or ``NAME`` for its newest version."""
    name, _, version = ref.partition(":")
    found = _find_version(session, name, version or None)
    if found is None:
        known = [f"{v.model_name}:{v.version}" for v in list_versions(session)]
        listing = ", ".join(known) or "none yet (breedbench models add)"
        raise BreedbenchError(f"no model version {ref!r}; registered: {listing}")
    return version_info(*found)


def get_version_by_id(session: Session, version_id: int) -> VersionInfo:
    v = session.get(ModelVersion, version_id)
    if v is None:
        raise BreedbenchError(f"no model version with id {version_id}")
    return version_info(v.model, v)


def list_versions(session: Session, name: str | None = None) -> list[VersionInfo]:
    """Every version, by model name then registration order."""
    stmt = select(Model, ModelVersion).join(ModelVersion)
    if name is not None:
        stmt = stmt.where(Model.name == name)
    rows = session.execute(stmt.order_by(Model.name, ModelVersion.id)).all()
    return [version_info(m, v) for m, v in rows]
