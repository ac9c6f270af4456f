"""`api.qr` builds the same QR code as the `qrcode` library, only faster, and draws it faithfully.

The library is the reference: for random stamp texts, the codewords and the module matrix
must equal what `qrcode` computes itself with the same version, level, border and mask;
the SVG and PNG must show exactly the matrix's dark modules.
"""

import base64
import io
import random
import re
import xml.etree.ElementTree as ET

import pytest
import qrcode
import qrcode.util
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, QRData

from api import qr
from mobile_contract.stamps import SIZE, TEXT_LENGTH

_rng = random.Random(7)
# Random bytes of a stamp's size, in base32 like a stamp: every text the format can produce.
STAMP_TEXTS = [base64.b32encode(_rng.randbytes(SIZE)).decode().rstrip("=") for _ in range(200)]
_SVG = "{http://www.w3.org/2000/svg}"
_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")


def _library_code(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(version=7, error_correction=ERROR_CORRECT_M, border=4, mask_pattern=0)
    code.add_data(QRData(text.encode(), mode=MODE_ALPHA_NUM))
    code.make(fit=False)
    return code


def _dark_modules(matrix: list[list[bool]]) -> set[tuple[int, int]]:
    return {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def _svg_dark_squares(svg: bytes) -> tuple[int, set[tuple[int, int]]]:
    """The unit squares the SVG's path paints: their count (overlaps counted twice) and positions."""
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    paths = root.findall(f"{_SVG}path")
    assert len(paths) == 1 and paths[0].get("fill") == "#000"
    d = paths[0].get("d", "")
    assert _RUN.sub("", d) == "", "the path is made of unit-high rectangles only"
    count, squares = 0, set()
    for x, y, width, back in _RUN.findall(d):
        assert width == back, "each rectangle closes where it started"
        count += int(width)
        squares |= {(int(x) + i, int(y)) for i in range(int(width))}
    return count, squares


def test_the_random_texts_are_stamp_shaped() -> None:
    assert len(set(STAMP_TEXTS)) == 200
    assert all(len(text) == TEXT_LENGTH for text in STAMP_TEXTS)


def test_codewords_equal_the_librarys_for_random_stamps() -> None:
    for i, text in enumerate(STAMP_TEXTS):
        expected = qrcode.util.create_data(7, ERROR_CORRECT_M, [QRData(text.encode(), mode=MODE_ALPHA_NUM)])
        assert qr.codewords(text) == expected, f"stamp #{i}: {text}"


def test_the_matrix_equals_the_librarys_for_random_stamps() -> None:
    for i, text in enumerate(STAMP_TEXTS):
        expected = _library_code(text).get_matrix()
        matrix = qr.matrix(text)
        assert len(matrix) == 45 + 2 * 4, "version 7 is 45 modules wide, plus a 4-module quiet zone each side"
        assert matrix == expected, f"stamp #{i}: {text}"


def test_a_text_too_long_for_version_7_is_refused() -> None:
    assert len(qr.codewords("A" * 178)) == 196, "version 7 at level M holds 178 alphanumeric characters"
    with pytest.raises(ValueError, match="does not fit"):
        qr.codewords("A" * 179)


def test_the_svg_paints_exactly_the_dark_modules() -> None:
    for i, text in enumerate(STAMP_TEXTS):
        matrix = qr.matrix(text)
        size = len(matrix)
        svg = qr.svg(text)
        root = ET.fromstring(svg)  # noqa: S314  (our own output)
        assert root.tag == f"{_SVG}svg"
        assert root.get("viewBox") == f"0 0 {size} {size}"
        assert root.get("width") == root.get("height") == str(size * 8)
        count, squares = _svg_dark_squares(svg)
        dark = _dark_modules(matrix)
        assert count == len(dark), f"stamp #{i}: {text}"
        assert squares == dark, f"stamp #{i}: {text}"


def test_the_svg_is_scaled_by_module_px() -> None:
    root = ET.fromstring(qr.svg(STAMP_TEXTS[0], module_px=3))  # noqa: S314
    assert root.get("width") == root.get("height") == str(53 * 3)


def _expected_pixels(matrix: list[list[bool]], module_px: int) -> bytes:
    lines = (b"".join((b"\x00" if dark else b"\xff") * module_px for dark in row) for row in matrix)
    return b"".join(line * module_px for line in lines)


def test_the_png_shows_exactly_the_matrix_scaled_by_module_px() -> None:
    for i, text in enumerate(STAMP_TEXTS):
        matrix = qr.matrix(text)
        size = len(matrix)
        module_px = 4 if i % 2 == 0 else 3
        with Image.open(io.BytesIO(qr.png(text, module_px=module_px))) as image:
            assert image.format == "PNG"
            assert image.size == (size * module_px, size * module_px)
            pixels = image.convert("L").tobytes()
        assert pixels == _expected_pixels(matrix, module_px), f"stamp #{i}: {text}"
