"""``.keras`` files (Keras 3 zip): the model config says which code builds the model.

Keras rebuilds a model by importing the classes and functions its ``config.json`` names, so the
check reads that JSON (no Keras, no TensorFlow) and refuses, wherever they are nested:

- ``Lambda`` layers and ``__lambda__`` functions: Python bytecode stored in the file;
- layers that load or unpickle other code: ``TFSMLayer`` (a SavedModel from a path),
  ``TorchModuleWrapper`` (a pickled torch module), ``JaxLayer`` / ``FlaxLayer`` (callables);
- custom objects: a ``module`` outside ``keras`` (or a ``registered_name`` other than the class's
  own), whose code comes from wherever that name resolves at load time;
- a file to read: a string ``vocabulary`` (``TextVectorization``, ``StringLookup``, …) or
  ``filepath``.

Loading then uses ``safe_mode=True`` as well, so Keras refuses stored bytecode by itself too.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from evaluator.safety.refusal import Refusal, merge

MAX_CONFIG_BYTES = 64 << 20
REFUSED_CLASSES = {
    "Lambda": "runs Python code stored in the file",
    "__lambda__": "is Python bytecode stored in the file",
    "TFSMLayer": "loads another model from a path",
    "TorchModuleWrapper": "unpickles a Python object stored in the file",
    "JaxLayer": "calls Python functions stored with the model",
    "FlaxLayer": "calls Python functions stored with the model",
}
FILE_KEYS = ("vocabulary", "filepath", "file_path")


def read_config(data: bytes, source: Path) -> Any:
    """``config.json`` of the ``.keras`` zip in ``data`` (``source`` names it in messages)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                raise BreedbenchError(f"{source}: config.json is {info.file_size} bytes: too large")
            return json.loads(zf.read(info))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, RecursionError) as exc:
        raise BreedbenchError(f"{source}: not a readable .keras file: {exc}") from None


def keras_refusals(data: bytes, source: Path) -> list[Refusal]:
    config = read_config(data, source)
    try:
        return merge(list(config_refusals(config)))
    except RecursionError:
        raise BreedbenchError(f"{source}: config.json is nested too deeply to check") from None


def config_refusals(
    config: Any, path: str = "config.json", kind: str = "object", owner: str | None = None
) -> Iterator[Refusal]:
    """Walk the JSON: every serialized object (a dict with ``class_name``) is looked at; a
    refused one is not walked further (its insides would only repeat the refusal). ``owner``
    is the nearest named object, where a setting is said to be."""
    if isinstance(config, list):
        for i, item in enumerate(config):
            yield from config_refusals(item, f"{path}[{i}]", kind, owner)
        return
    if not isinstance(config, dict):
        return
    if isinstance(config.get("class_name"), str):
        inner = config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        owner = f'"{name}" in config.json' if isinstance(name, str) else path
        refusal = _object_refusal(config, owner, kind)
        if refusal is not None:
            yield refusal
            return
    for key in FILE_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value:
            reason = "reads a file when the model loads"
            yield Refusal(f"{key}={value!r}", owner or path, reason, kind="setting")
    for key, value in config.items():
        if isinstance(value, dict | list):
            inner_kind = "layer" if key == "layers" else "object"
            yield from config_refusals(value, f"{path}.{key}", inner_kind, owner)


def _object_refusal(obj: dict[str, Any], where: str, kind: str) -> Refusal | None:
    class_name = obj["class_name"]
    if class_name in REFUSED_CLASSES:
        return Refusal(class_name, where, REFUSED_CLASSES[class_name], kind=kind)
    module = obj.get("module")
    registered = obj.get("registered_name")
    keras_module = module == "keras" or str(module).startswith("keras.")
    builtin_function = module == "builtins" and class_name == "function"
    if module is not None and not keras_module and not builtin_function:
        return Refusal(class_name, where, f"is custom code from module {module!r}", kind=kind)
    if registered not in (None, class_name, "function"):
        reason = f"is a custom object (registered as {registered!r})"
        return Refusal(class_name, where, reason, kind=kind)
    return None
