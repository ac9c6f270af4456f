"""QR images of stamps, built with the `qrcode` library's matrix, drawn straight from it.

`qrcode.make()` searches for the smallest version and tries all eight masks, scoring
each; a stamp always fits version 7 at level M and any mask decodes, so both are fixed.
The library's Reed-Solomon step (polynomial objects, recursive) is then most of what
is left, so the codewords are computed here with log/antilog tables, from the library's
own block table and Galois-field tables, and handed to `qrcode` as its data cache;
`tests/api/test_qr.py` checks the matrix equals the library's own for random stamps.
Images come straight from the matrix: the SVG as one path, the PNG as a 1-bit image
scaled without resampling.
"""

import html
import io
from functools import cache

import qrcode
from PIL import Image
from qrcode import base
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import ALPHA_NUM, PAD0, PAD1

from mobile_contract.stamps import QR_VERSION

BORDER = 4  # the quiet zone the QR standard asks for, in modules
MASK = 0
_ALPHANUMERIC = {char: value for value, char in enumerate(ALPHA_NUM.decode())}
_EXP, _LOG = base.EXP_TABLE, base.LOG_TABLE


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[(_LOG[a] + _LOG[b]) % 255]


@cache
def _generator_tables(ec_count: int) -> tuple[tuple[int, ...], ...]:
    """For each coefficient of the RS generator (after the leading 1), its products with 0..255."""
    poly = [1]
    for i in range(ec_count):
        # multiply by (x - a^i); in GF(256) subtraction is XOR
        nxt = [*poly, 0]
        for j, coef in enumerate(poly):
            nxt[j + 1] ^= _gf_mul(coef, _EXP[i])
        poly = nxt
    return tuple(tuple(_gf_mul(coef, x) for x in range(256)) for coef in poly[1:])


def _ec_codewords(data: list[int], ec_count: int) -> list[int]:
    """The remainder of data(x)·x^n divided by the generator: the error-correction codewords."""
    tables = _generator_tables(ec_count)
    remainder = [0] * ec_count
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = [r ^ t[factor] for r, t in zip([*remainder[1:], 0], tables, strict=True)]
    return remainder


def codewords(text: str) -> list[int]:
    """Data and error-correction codewords, interleaved, for `text` in alphanumeric mode."""
    blocks = base.rs_blocks(QR_VERSION, ERROR_CORRECT_M)
    capacity = sum(block.data_count for block in blocks) * 8
    bits, length = 0b0010, 4  # alphanumeric mode indicator
    bits, length = (bits << 9) | len(text), length + 9  # character count: 9 bits for versions 1-9
    for i in range(0, len(text) - 1, 2):
        bits, length = (bits << 11) | (_ALPHANUMERIC[text[i]] * 45 + _ALPHANUMERIC[text[i + 1]]), length + 11
    if len(text) % 2:
        bits, length = (bits << 6) | _ALPHANUMERIC[text[-1]], length + 6
    if length > capacity:
        raise ValueError("text does not fit the stamp's QR version")
    terminator = min(4, capacity - length)
    bits, length = bits << terminator, length + terminator
    bits, length = bits << (-length % 8), length + (-length % 8)
    data = list(bits.to_bytes(length // 8, "big"))
    data += [PAD0 if i % 2 == 0 else PAD1 for i in range(capacity // 8 - len(data))]

    data_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    offset = 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    out: list[int] = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return out


def matrix(text: str) -> list[list[bool]]:
    """The module matrix for a stamp, quiet zone included."""
    code = qrcode.QRCode(version=QR_VERSION, error_correction=ERROR_CORRECT_M, border=BORDER, mask_pattern=MASK)
    code.data_cache = codewords(text)
    code.make(fit=False)
    modules: list[list[bool]] = code.get_matrix()
    return modules


def svg_path(rows: list[list[bool]]) -> str:
    """An SVG path drawing a module matrix's dark modules, one rectangle per run in a row."""
    size = len(rows)
    path = []
    for y, row in enumerate(rows):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                path.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return "".join(path)


def svg(text: str, module_px: int = 8) -> bytes:
    rows = matrix(text)
    size = len(rows)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size * module_px}" '
        f'height="{size * module_px}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>'
        f'<path fill="#000" d="{svg_path(rows)}"/></svg>'
    ).encode()


def png(text: str, module_px: int = 4) -> bytes:
    rows = matrix(text)
    size = len(rows)
    packed = bytes(0 if dark else 255 for row in rows for dark in row)
    image = Image.frombytes("L", (size, size), packed).convert("1")
    buffer = io.BytesIO()
    image.resize((size * module_px, size * module_px), Image.Resampling.NEAREST).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def fitted_svg(text: str, label: str, module_px: int = 6) -> str:
    """Any text (a pairing secret, a join link) as an inline SVG QR code of the smallest version
    that fits, with an accessible label. Only numbers and our own markup go into it, and the
    label is escaped: the result may be put in a page as it is."""
    code = qrcode.QRCode(border=BORDER)
    code.add_data(text)
    code.make(fit=True)
    rows: list[list[bool]] = code.get_matrix()
    size = len(rows)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size * module_px}" '
        f'height="{size * module_px}" role="img" aria-label="{html.escape(label)}" shape-rendering="crispEdges">'
        f'<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="{svg_path(rows)}"/></svg>'
    )
