"""The content-addressed image store and its thumbnails."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from PIL import Image as PILImage

import db.store
from core.errors import BreedbenchError
from db.store import FileSystemImageStore, thumbnail_jpeg, thumbnail_path
from tests.db.diskfull import disk_full_from_write, store_files
from tests.factories import encode, jpeg_bytes, photo


def test_identical_bytes_are_stored_once(tmp_path) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=1)
    a = store.put(data)
    b = store.put(data)
    assert a.sha256 == b.sha256 and a.path == b.path
    assert a.created and not b.created
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert store.read(a.path) == data  # the original bytes, untouched


def test_paths_derive_from_the_hash_only(tmp_path) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    stored = store.put(b"any bytes")
    assert stored.path == f"originals/{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}"
    with pytest.raises(BreedbenchError, match="outside the store"):
        store.absolute("../../etc/passwd")


def test_no_temporary_files_are_left(tmp_path) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    store.put(jpeg_bytes(seed=2))
    assert not [p for p in (tmp_path / "store").rglob(".tmp-*")]


def test_thumbnail_longest_side_exif_and_rgb() -> None:
    img = photo(800, 400)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    rotated = PILImage.open(io.BytesIO(encode(img, "JPEG", exif=exif)))
    thumb = PILImage.open(io.BytesIO(thumbnail_jpeg(rotated)))
    assert thumb.mode == "RGB"
    assert thumb.size == (128, 256)  # portrait after orientation, longest side 256


@pytest.mark.parametrize(
    "mode",
    ["CMYK", "P", "RGBA", "I;16", "L"],
)
def test_thumbnail_handles_unusual_modes(mode: str) -> None:
    base = photo(300, 200)
    img = base.convert(mode) if mode != "I;16" else base.convert("L").convert("I;16")
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    decoded = PILImage.open(io.BytesIO(encode(img, fmt)))
    thumb = PILImage.open(io.BytesIO(thumbnail_jpeg(decoded)))
    assert thumb.mode == "RGB" and max(thumb.size) == 256


def test_store_under_a_file_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BreedbenchError, match="cannot create the image store"):
        FileSystemImageStore(blocker / "store")


@pytest.mark.usefixtures("owner_permissions")  # as root too (CI): the owner's bits are obeyed
def test_unwritable_store_is_a_clear_error(tmp_path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(BreedbenchError, match="not writable"):
        FileSystemImageStore(root)


def test_a_full_disk_while_storing_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    disk_full_from_write(monkeypatch, 1)
    with pytest.raises(
        BreedbenchError, match=r"^disk full while writing [0-9a-f]{64} in .*originals"
    ):
        store.put(jpeg_bytes(seed=3))
    assert store_files(tmp_path / "store") == []


def test_an_original_is_not_left_without_its_thumbnail(tmp_path: Path, monkeypatch) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=4)
    disk_full_from_write(monkeypatch, 2)  # the original fits, its thumbnail does not
    with pytest.raises(
        BreedbenchError, match=r"^disk full while writing [0-9a-f]{64}\.jpg in .*thumbs"
    ):
        store.put_with_thumbnail(data, PILImage.open(io.BytesIO(data)))
    assert store_files(tmp_path / "store") == []


def test_an_original_already_stored_is_kept_when_its_thumbnail_fails(
    tmp_path: Path, monkeypatch
) -> None:
    """A row may hold it: only what this call wrote is taken back."""
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=5)
    stored = store.put(data)
    disk_full_from_write(monkeypatch, 1)
    with pytest.raises(BreedbenchError, match="disk full"):
        store.put_with_thumbnail(data, PILImage.open(io.BytesIO(data)))
    assert store_files(tmp_path / "store") == [stored.path]
    assert store.read(stored.path) == data


def test_put_with_thumbnail_stores_both(tmp_path: Path) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=6)
    stored = store.put_with_thumbnail(data, PILImage.open(io.BytesIO(data)))
    assert stored.created
    assert store_files(tmp_path / "store") == sorted([stored.path, thumbnail_path(stored.sha256)])


def test_put_with_thumbnail_says_which_files_it_wrote(tmp_path: Path) -> None:
    """Only those are the caller's to take back: the others were there, a row may hold them."""
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=7)
    first = store.put_with_thumbnail(data)
    assert first.created == (first.path, first.thumb_path)
    assert store.put_with_thumbnail(data).created == ()
    store.absolute(first.thumb_path).unlink()
    assert store.put_with_thumbnail(data).created == (first.thumb_path,)


def test_put_with_thumbnail_decodes_only_for_a_missing_thumbnail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileSystemImageStore(tmp_path / "store")
    data = jpeg_bytes(seed=8)
    stored = store.put_with_thumbnail(data)  # decodes: the thumbnail is made here
    with PILImage.open(io.BytesIO(data)) as img:
        assert store.read(stored.thumb_path) == thumbnail_jpeg(img)

    def forbidden(*_args: object) -> None:
        raise AssertionError("decoded although the thumbnail is there")

    monkeypatch.setattr(db.store, "open_working", forbidden)
    store.absolute(stored.path).unlink()
    assert store.put_with_thumbnail(data).created == (stored.path,)
