"""The base of every wire struct: frozen, keyword-only, unknown fields refused."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

Id = UUID
# Something to read (not only spaces), and no control characters: PostgreSQL refuses NUL in
# text, and none belongs in a name.
Name = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"),
]
# ASCII only (printable, no spaces): lower-casing then never changes the length, and
# look-alike letters cannot make a second account that reads as the first.
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$")]
# E.164: what SMS providers take; the app formats the number before sending it.
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+[1-9][0-9]{6,14}$")]
Timestamp = datetime
# Litestar leaves a minimum of 0 out of the OpenAPI schema (it tests the bound for truth): a
# field with `ge=0` says it again through msgspec's extra JSON schema.
ZERO_OR_MORE = {"extra": {"minimum": 0}}


class Wire(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base for request and response bodies.

    msgspec inherits `forbid_unknown_fields` but applies `kw_only` only to the fields a
    class declares itself, and mypy only sees `frozen` where it is written, so each
    subclass repeats `frozen=True, kw_only=True`.
    """
