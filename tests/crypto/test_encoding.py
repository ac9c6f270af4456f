"""Unpadded base64url: one spelling per byte string, and nothing else accepted."""

import string

import pytest

from crypto.encoding import EncodingError, b64u_decode, b64u_encode

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


@pytest.mark.parametrize(
    "data",
    [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", bytes(range(256)), b"\xfb\xff\xbf"],
    ids=["empty", "1", "2", "3", "4", "5", "6", "all-bytes", "url-chars"],
)
def test_bytes_survive_a_round_trip(data: bytes) -> None:
    text = b64u_encode(data)

    assert set(text) <= set(ALPHABET)
    assert b64u_decode(text) == data


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (b"foobar", "Zm9vYmFy"), (b"\xfb\xff", "-_8")],
)
def test_encoding_is_rfc_4648_base64url_without_padding(data: bytes, text: str) -> None:
    assert b64u_encode(data) == text
    assert b64u_decode(text) == data


@pytest.mark.parametrize("text", ["Zg==", "Zg=", "Zm8=", "Zm9v=", "Zm9v====", "=", "Z=g"])
def test_padding_is_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("text", ["+_8", "-/8", "+/8", "Zm9v+A", "Zm9v/w"])
def test_standard_base64_characters_are_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("text", ["Zm9vé", "Zm9v\uff21", "Zm9v\u200b", "\u0417m9v"])
def test_non_ascii_text_is_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("text", ["Zm9v\n", " Zm9v", "Zm 9v", "Zm9v!", "Zm.9v", "Zm9v\t"])
def test_whitespace_and_stray_characters_are_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("text", ["Zh", "Zm9", "-_9", "AB", "AAB"])
def test_non_canonical_tails_are_rejected(text: str) -> None:
    # Each of these decodes to bytes whose canonical spelling ends differently.
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("text", ["Z", "Zm9vY", "AAAAA"])
def test_impossible_lengths_are_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@pytest.mark.parametrize("data", [b"\x00", b"\xff", b"\x12\x34", b"\xff\xee"])
def test_each_byte_string_has_exactly_one_accepted_spelling(data: bytes) -> None:
    canonical = b64u_encode(data)
    spellings_of_data = []
    for last in ALPHABET:
        spelling = canonical[:-1] + last
        try:
            decoded = b64u_decode(spelling)
        except EncodingError:
            continue
        if decoded == data:
            spellings_of_data.append(spelling)

    # Changing only the unused low bits of the last character must not give a second
    # spelling of the same bytes.
    assert spellings_of_data == [canonical]


def test_encoding_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64u_decode("Zg==")
