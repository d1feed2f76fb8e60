"""The character policy of every string the REST API accepts (rapport_platform.text): each
string field, in a body or a query, is one of these types, so bad text is a 422 naming the
field before any service sees it. The services apply the same policy to what they store."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from rapport_platform.text import check_text


def _line(value: str) -> str:
    return check_text(value)


def _optional_line(value: str) -> str:
    return check_text(value, allow_blank=True)


def _paragraph(value: str) -> str:
    return check_text(value, multiline=True, allow_blank=True)


def _ascii(value: str) -> str:
    # Codes, tags, zones, tokens and cursors: nothing outside printable ASCII is ever valid.
    return check_text(value, ascii_only=True, allow_blank=True)


def _secret(value: str) -> str:
    # Passwords are kept as typed (a normalisation would change what existing hashes match);
    # only control and format characters are refused.
    check_text(value, allow_blank=True)
    return value


Line = Annotated[str, AfterValidator(_line)]
"""One line of text a person reads (names): NFC, trimmed, not blank."""
OptionalLine = Annotated[str, AfterValidator(_optional_line)]
Paragraph = Annotated[str, AfterValidator(_paragraph)]
"""Free text over lines (a bio, a reason): newlines and tabs allowed, may be empty."""
Ascii = Annotated[str, AfterValidator(_ascii)]
Secret = Annotated[str, AfterValidator(_secret)]

POLICIES = frozenset({_line, _optional_line, _paragraph, _ascii, _secret})
