"""One character policy for every string a person types into Rapport (docs/security.md).

Text is NFC-normalised (one spelling per character, so equal names compare equal) and refused
when it holds control characters (Cc: NUL, ANSI escapes; newlines and tabs only in multi-line
text), format characters (Cf: bidi overrides such as U+202E, zero-width spaces and joiners),
surrogates, private-use or unassigned code points, or is blank once trimmed. Fields meant to be
ASCII (one-time codes, codes and tags) say so with `ascii_only`, so no non-ASCII input reaches
code that raises on it (hmac.compare_digest on str).
"""

from __future__ import annotations

import unicodedata

# Cc control, Cf format (bidi, zero-width), Cs surrogate, Co private use, Cn unassigned.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
MULTILINE_ALLOWED = frozenset("\n\t")


class TextRefused(ValueError):
    """Why a text was refused; the message never quotes the text."""


def check_text(
    value: str,
    *,
    max_chars: int | None = None,
    multiline: bool = False,
    allow_blank: bool = False,
    ascii_only: bool = False,
) -> str:
    """The text, normalised (NFC) and trimmed; TextRefused says why not."""
    value = unicodedata.normalize("NFC", value)
    if ascii_only and not value.isascii():
        raise TextRefused("must be ASCII")
    if multiline:
        value = value.replace("\r\n", "\n")
    for ch in value:
        if multiline and ch in MULTILINE_ALLOWED:
            continue
        category = unicodedata.category(ch)
        if category in REFUSED_CATEGORIES:
            kind = {"Cc": "control", "Cf": "invisible formatting"}.get(category, "unusable")
            raise TextRefused(f"must not contain {kind} characters (U+{ord(ch):04X})")
    value = value.strip()
    if not value and not allow_blank:
        raise TextRefused("must not be blank")
    if max_chars is not None and len(value) > max_chars:
        raise TextRefused(f"must be at most {max_chars} characters")
    return value
