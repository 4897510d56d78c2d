"""Validation as plain functions: type from the bytes, full decode, size limits."""

from __future__ import annotations

import pytest
from PIL import Image as PILImage

from crawler.validation import Refusal, sniff_type, validate_image
from tests.crawler.mockserver import (
    HTML,
    SVG,
    animated_gif,
    grainy_photo_jpeg,
    png_bomb,
    rotated_jpeg,
)
from tests.factories import encode, jpeg_bytes, photo


def refusal(data: bytes, **kw: int) -> str:
    with pytest.raises(Refusal) as exc:
        validate_image(data, **kw)
    return exc.value.reason


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (jpeg_bytes(), "jpeg"),
        (encode(photo(), "PNG"), "png"),
        (encode(photo(), "GIF"), "gif"),
        (encode(photo(), "WEBP"), "webp"),
        (encode(photo(), "BMP"), "bmp"),
        (encode(photo(), "TIFF"), "tiff"),
        (SVG, "svg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
        (HTML, "html"),
        (b"\n  <html><body>403</body></html>", "html"),
        (b"", "empty"),
        (b"%PDF-1.7 ...", "unknown"),
    ],
)
def test_sniff_type_reads_the_bytes(data: bytes, kind: str) -> None:
    assert sniff_type(data) == kind


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (HTML, "html"),
        (SVG, "svg"),
        (b"%PDF-1.7", "not_an_image"),
        (jpeg_bytes()[:2000], "truncated"),
        (encode(photo(1, 1), "PNG"), "too_small"),
        (jpeg_bytes(400, 100), "too_small"),
        (png_bomb(), "decompression_bomb"),
        (encode(photo(), "ICO"), "not_an_image"),
    ],
)
def test_refusals(data: bytes, reason: str) -> None:
    assert refusal(data) == reason


def test_limits_are_parameters() -> None:
    data = jpeg_bytes(320, 240)
    assert refusal(data, max_bytes=len(data) - 1) == "too_big"
    assert refusal(data, min_side=241) == "too_small"
    assert refusal(data, max_pixels=320 * 240 - 1) == "decompression_bomb"
    assert validate_image(data, min_side=240, max_pixels=320 * 240).height == 240


def test_a_corrupt_body_is_refused_not_raised() -> None:
    data = bytearray(jpeg_bytes())
    data[200:400] = b"\x00" * 200
    data = bytes(data[:-300])
    assert refusal(data) in ("truncated", "corrupt")


@pytest.mark.parametrize(
    ("data", "fmt", "mode"),
    [
        (encode(photo().convert("CMYK"), "JPEG"), "JPEG", "CMYK"),
        (rotated_jpeg(1), "JPEG", "RGB"),
        (animated_gif(1), "GIF", "P"),
        (encode(photo().convert("I;16"), "PNG"), "PNG", "I;16"),
        (encode(photo().convert("P"), "PNG"), "PNG", "P"),
    ],
)
def test_accepted_modes_keep_the_original_bytes(data: bytes, fmt: str, mode: str) -> None:
    valid = validate_image(data)
    assert valid.data is data and valid.format == fmt and valid.image.mode == mode
    assert len(valid.sha256) == 64


def test_animated_gif_is_accepted_with_its_frame_count() -> None:
    valid = validate_image(animated_gif(3))
    assert valid.frames == 2 and (valid.width, valid.height) == (200, 200)


def test_rotated_photo_is_measured_as_stored() -> None:
    valid = validate_image(rotated_jpeg(2))
    assert (valid.width, valid.height) == (320, 240)
    assert valid.image.getexif()[0x0112] == 6


def test_hashes_survive_a_re_encode() -> None:
    a = validate_image(jpeg_bytes(320, 240, seed=7))
    b = validate_image(jpeg_bytes(640, 480, seed=7, quality=70))
    assert a.sha256 != b.sha256
    assert bin((a.phash ^ b.phash) & (2**64 - 1)).count("1") <= 8


def test_pillow_global_limits_are_left_alone() -> None:
    before = PILImage.MAX_IMAGE_PIXELS
    refusal(png_bomb())
    validate_image(jpeg_bytes(), max_pixels=10**9)
    assert before == PILImage.MAX_IMAGE_PIXELS


def test_large_jpeg_is_decoded_at_working_size_and_truncation_is_still_refused() -> None:
    # 2048×1536: libjpeg decodes it at 1/4 scale (DCT domain), which still reads every byte.
    data = grainy_photo_jpeg(2048, 1536, seed=4)
    valid = validate_image(data)
    assert (valid.width, valid.height) == (2048, 1536)
    assert valid.image.size == (512, 384)
    assert valid.data is data
    for cut in (len(data) // 2, len(data) - 300, len(data) - 2):
        assert refusal(data[:cut]) == "truncated"


def test_a_reduced_decode_still_refuses_small_images_by_their_real_size() -> None:
    data = grainy_photo_jpeg(2048, 1536, seed=4)
    assert refusal(data, min_side=1600) == "too_small"
    assert refusal(data, max_pixels=2048 * 1536 - 1) == "decompression_bomb"
