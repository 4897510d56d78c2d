"""The model registry: a version is a checked copy of a model file plus its spec.

``register_model`` refuses what it cannot evaluate before anything is written: a file that is no
model (or a truncated one), a model that would do more than compute (an op outside the
allow-list, a custom ``.tflite`` operator, a ``Lambda`` layer: ``evaluator.safety``) unless the
person trusts it (``trusted``, recorded on the version), a spec whose tensor names are not in
the model (the error lists the real inputs and outputs), labels that match no breed, an output
size that disagrees with the labels. The format's own runner module checks the file against the
spec (``evaluator.runners.check_model_file``). The bytes checked are the bytes stored: a
single-file model is read once, checked, hashed and written to ``<data dir>/models/<sha256>.<ext>``
from memory (the same bytes are stored once); the version row is then written, its spec as
``ModelSpec.to_dict`` gives it and, for a ``.tflite``, the quantization read from its tensors
(``evaluator.quantization``): what the file is, whoever converted it.

Models are code, and the stored file could change after registration: ``VersionInfo.open``, the
one way the rest of the code reaches a stored model, reads the file once, checks its sha256
against the registered one and, unless the version is trusted, checks its ops again, every time,
and hands those same bytes to the runner (``StoredModel.runner``). A SavedModel folder is many
files that TensorFlow reads itself: it is hashed and checked from its path just before loading.

A stored spec that no longer validates makes that one version unusable (``spec_problem``):
listings still show it, and using it says why it cannot be.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.files import atomic_write
from core.settings import Settings
from db.database import Database
from db.models import Model, ModelVersion
from evaluator import quantization
from evaluator.labels import build_label_map
from evaluator.runners import Runner, check_model_file, load_runner
from evaluator.runners.detector import DetectorRunner, check_detector_file, load_detector
from evaluator.safety import model_refusals, refusal_message
from evaluator.spec import ModelSpec

TFLITE_IDENTIFIER = b"TFL3"
EXTENSIONS = {"frozen_pb": ".pb", "tflite": ".tflite", "keras": ".keras", "saved_model": ""}


@dataclass(frozen=True)
class StoredModel:
    """A stored model as ``VersionInfo.open`` verified it: ``content`` holds the bytes that were
    hashed and checked (None for a SavedModel folder, which TensorFlow reads from ``path``)."""

    path: Path
    format: str
    content: bytes | None

    def runner(self, spec: ModelSpec, threads: int | None = None, batch: int = 32) -> Runner:
        """The model loaded from the verified bytes, ready to ``predict``."""
        return load_runner(self.path, self.format, spec, threads, batch, content=self.content)

    def detector(self, spec: ModelSpec, threads: int | None = None) -> DetectorRunner:
        """The detector loaded from the verified bytes, ready to ``detect``."""
        return load_detector(self.path, self.format, spec, self.content, threads)


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
    spec: ModelSpec  # empty when the stored spec is invalid (``spec_problem`` says why)
    parent_id: int | None
    conversion: dict[str, Any] | None
    created_at: datetime
    trusted: bool = False  # registered with --trust-model: its ops are not checked
    spec_problem: str | None = None  # the stored spec does not validate: the version is unusable
    quantization: dict[str, Any] | None = None  # a .tflite's, read from it when registered

    @property
    def ref(self) -> str:
        return f"{self.model_name}:{self.version}"

    @property
    def is_detector(self) -> bool:
        return self.spec.is_detector

    @property
    def quantization_label(self) -> str:
        """``int8 (uint8 I/O)``, ``dynamic range``, ``float32``...; ``-`` when not known."""
        return quantization.label(self.quantization, self.conversion)

    def usable(self) -> VersionInfo:
        """This version, when its stored spec is valid; else the error saying why not."""
        if self.spec_problem is not None:
            raise BreedbenchError(self.spec_problem)
        return self

    def stored_path(self, settings: Settings) -> Path:
        """Where the stored file is, unchecked: ``open`` verifies it before anything loads it."""
        p = Path(self.path)
        return p if p.is_absolute() else settings.data_dir / p

    def open(self, settings: Settings) -> StoredModel:
        """The stored model, verified for loading: the bytes registered (sha256) and, unless
        trusted, only ops that compute, read once and handed on as they were checked. Every
        load (evaluate, parity, convert, the app's evaluations) reaches the model through here."""
        self.usable()
        path = self.stored_path(settings)
        return StoredModel(path, self.format, read_stored_file(self, path))

    def file(self, settings: Settings) -> Path:
        """The stored file's path, verified as ``open`` does (for what only needs the path)."""
        return self.open(settings).path


def version_info(model: Model, v: ModelVersion) -> VersionInfo:
    """The row as the rest of the code sees it: the stored JSON spec read back once, here. An
    invalid spec does not raise (listings show every version): ``spec_problem`` says why, and
    ``usable``/``open`` refuse the version."""
    problem = None
    try:
        spec = ModelSpec.from_dict(v.spec or {})
    except BreedbenchError as exc:
        spec = ModelSpec(format=v.format)
        problem = f"the stored spec of {model.name}:{v.version} is invalid: {exc}"
    return VersionInfo(
        id=v.id,
        model_id=model.id,
        model_name=model.name,
        version=v.version,
        format=v.format,
        path=v.path,
        sha256=v.sha256,
        size_bytes=v.size_bytes,
        spec=spec,
        parent_id=v.parent_id,
        conversion=v.conversion,
        created_at=v.created_at,
        trusted=bool(v.trusted),
        spec_problem=problem,
        quantization=v.quantization,
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


def read_model_bytes(path: Path, fmt: str) -> bytes | None:
    """A single-file model's bytes, read once for checking, hashing and loading (None for a
    SavedModel folder)."""
    if fmt == "saved_model":
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BreedbenchError(f"cannot read {path}: {exc.strerror}") from None


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
    trusted: bool = False,
    warn: Callable[[str], None] | None = None,
) -> VersionInfo:
    """Check the file and spec, copy the file into the data dir, record the version.

    ``trusted`` (``--trust-model``) registers a model that does more than compute and records
    that the person vouched for it; what the check would have refused is passed to ``warn``,
    once, here.
    """
    path = Path(path)
    name, version = name.strip(), version.strip()
    if not name or not version or ":" in name:
        raise BreedbenchError("a model needs a --name (without ':') and a --version")
    fmt = detect_format(path)
    if spec.format is not None and spec.format != fmt:
        raise BreedbenchError(f"the spec says format = {spec.format!r} but {path} is {fmt}")
    with db.session() as s:
        if is_registered(s, name, version):
            raise BreedbenchError(f"{name}:{version} is already registered")
        if not spec.is_detector:  # a detector has no breed labels
            build_label_map(s, spec)  # labels that match no breed are refused here
    content = read_model_bytes(path, fmt)
    refused = model_refusals(path, fmt, content)
    if refused and not trusted:
        raise BreedbenchError(refusal_message(refused))
    if spec.is_detector:
        problems = check_detector_file(path, fmt, spec, content)
    else:
        problems = check_model_file(path, fmt, spec, content)
    if problems:
        raise BreedbenchError("; ".join(problems))
    if warn is not None:
        for refusal in refused:
            warn(f"trusted: {refusal.describe()}")
    if content is None:  # a SavedModel folder: copied as it is on disk
        digest, size = file_sha256(path), _size(path)
    else:
        digest, size = hashlib.sha256(content).hexdigest(), len(content)
    # Read from the file itself: a .tflite added by hand shows its quantization too.
    detected = quantization.detect(content).to_dict() if fmt == "tflite" and content else None
    rel = _copy_into_store(path, content, db.settings, digest, fmt)
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
            size_bytes=size,
            spec=stored,
            parent_id=parent_id,
            conversion=conversion,
            trusted=trusted,
            quantization=detected,
        )
        s.add(row)
        s.flush()
        return version_info(model, row)


def reregister(flags: str = "") -> str:
    """What to do about a stored version that cannot be loaded: its ``NAME:VERSION`` is taken,
    so the file is registered again under another version."""
    return f"register the model file again under a new --version (breedbench models add{flags})"


def read_stored_file(info: VersionInfo, path: Path) -> bytes | None:
    """The stored file's bytes (None for a SavedModel folder) when they are the registered
    bytes and, for an untrusted version, only compute; else one line naming the version."""
    if not path.exists():
        raise BreedbenchError(f"the stored file of {info.ref} is missing: {path}; {reregister()}")
    content = read_model_bytes(path, info.format)
    digest = file_sha256(path) if content is None else hashlib.sha256(content).hexdigest()
    if digest != info.sha256:
        raise BreedbenchError(
            f"the stored file of {info.ref} changed since it was registered (sha256 "
            f"{digest[:12]}…, registered {info.sha256[:12]}…): {path}; refusing to load it"
        )
    if not info.trusted:
        refused = model_refusals(path, info.format, content)
        if refused:
            hint = f"to run it anyway, {reregister(' --trust-model')}"
            raise BreedbenchError(f"{info.ref}: {refusal_message(refused, hint)}")
    return content


def _copy_into_store(
    path: Path, content: bytes | None, settings: Settings, digest: str, fmt: str
) -> str:
    """Store ``content`` (the checked bytes) or, for a SavedModel, the folder at ``path``."""
    rel = f"models/{digest}{EXTENSIONS[fmt]}"
    target = settings.data_dir / rel
    if target.exists():
        return rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        atomic_write(target, content)
        return rel
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    shutil.copytree(path, tmp, dirs_exist_ok=True)
    os.replace(tmp, target)
    return rel


# --- reading ----------------------------------------------------------------------------------


def _find_version(s: Session, name: str, version: str | None) -> tuple[Model, ModelVersion] | None:
    stmt = select(Model, ModelVersion).join(ModelVersion).where(Model.name == name)
    if version is not None:
        stmt = stmt.where(ModelVersion.version == version)
    row = s.execute(stmt.order_by(ModelVersion.id.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1])


def is_registered(session: Session, name: str, version: str) -> bool:
    """Whether ``NAME:VERSION`` is taken (no spec is read)."""
    return _find_version(session, name, version) is not None


def get_version(session: Session, ref: str) -> VersionInfo:
    """``NAME:VERSION``, or ``NAME`` for its newest version, ready to use (an invalid stored
    spec is the error)."""
    name, _, version = ref.partition(":")
    found = _find_version(session, name, version or None)
    if found is None:
        known = [f"{v.model_name}:{v.version}" for v in list_versions(session)]
        listing = ", ".join(known) or "none yet (breedbench models add)"
        raise BreedbenchError(f"no model version {ref!r}; registered: {listing}")
    return version_info(*found).usable()


def get_version_by_id(session: Session, version_id: int) -> VersionInfo:
    """The version with this id, as listings show it (``usable`` before using its spec)."""
    v = session.get(ModelVersion, version_id)
    if v is None:
        raise BreedbenchError(f"no model version with id {version_id}")
    return version_info(v.model, v)


def list_versions(session: Session, name: str | None = None) -> list[VersionInfo]:
    """Every version, by model name then registration order (an invalid stored spec does not
    hide the others: see ``VersionInfo.spec_problem``)."""
    stmt = select(Model, ModelVersion).join(ModelVersion)
    if name is not None:
        stmt = stmt.where(Model.name == name)
    rows = session.execute(stmt.order_by(Model.name, ModelVersion.id)).all()
    return [version_info(m, v) for m, v in rows]
