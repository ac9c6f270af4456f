"""Chromium's fake camera: a y4m file it plays as the webcam, written here in plain Python.

Chromium reads the file named by `--use-file-for-fake-video-capture` at each `getUserMedia`, so
the till sees whatever was written last when its camera starts (at a "Next customer"). The file
is one 640 by 480 frame, 4:2:0 with JPEG's full-range YCbCr (`C420jpeg`): a QR code drawn by the
`qrcode` package from a text, or a picture such as a screenshot of the customer's card.
"""

import io
import os
from pathlib import Path

import qrcode
from PIL import Image

WIDTH, HEIGHT = 640, 480


def frame(picture: Image.Image) -> bytes:
    """One y4m frame of `picture`, fitted into the frame on white (a card held up to the camera)."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    fitted = picture.convert("RGB")
    fitted.thumbnail((WIDTH - 40, HEIGHT - 40), Image.Resampling.LANCZOS)
    canvas.paste(fitted, ((WIDTH - fitted.width) // 2, (HEIGHT - fitted.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    chroma = [plane.resize(half, Image.Resampling.BOX).tobytes() for plane in (cb, cr)]
    return b"FRAME\n" + y.tobytes() + chroma[0] + chroma[1]


def qr_picture(text: str) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(text)
    picture: Image.Image = code.make_image(fill_color="black", back_color="white").get_image()
    return picture


class Camera:
    """The file Chromium plays as its camera: `show` a text as a QR code, or a picture."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blank()

    def _write(self, picture: Image.Image) -> None:
        header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
        fresh = self.path.with_suffix(".next")
        fresh.write_bytes(header + frame(picture))
        os.replace(fresh, self.path)  # never half a file when Chromium opens it

    def blank(self) -> None:
        self._write(Image.new("RGB", (WIDTH, HEIGHT), "white"))

    def show(self, text: str) -> None:
        self._write(qr_picture(text))

    def show_picture(self, png: bytes) -> None:
        self._write(Image.open(io.BytesIO(png)))
