"""Unpadded base64url, the encoding JOSE (RFC 7515) and our wire use for bytes."""

import base64
import binascii


class EncodingError(ValueError):
    """Raised for text that is not canonical unpadded base64url."""


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing padding, stray characters and non-canonical tails.

    Refusing non-canonical input matters: two spellings of the same bytes would let a
    copied token or key pass as a different one.
    """
    if "=" in text or not text.isascii():
        raise EncodingError("expected unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError("expected unpadded base64url") from exc
    if b64u_encode(data) != text:
        raise EncodingError("expected canonical unpadded base64url")
    return data
