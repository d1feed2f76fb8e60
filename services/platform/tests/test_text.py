"""The character policy: what is refused, what is kept, and that it is NFC."""

from __future__ import annotations

import pytest
from rapport_platform.text import TextRefused, check_text


@pytest.mark.parametrize(
    "value",
    [
        "Al\x00ex",  # NUL
        "Alex\u202egnp.exe",  # right-to-left override
        "\x1b[31mAlex\x1b[0m",  # ANSI escape
        "\u200b\u200b",  # zero-width only
        "Al\u200dex",  # zero-width joiner
        "Alex\ufeff",  # BOM
        "Al\ue000ex",  # private use
        "   ",
        "",
        "two\nlines",  # a newline in a one-line field
    ],
)
def test_refused(value):
    with pytest.raises(TextRefused):
        check_text(value)


def test_kept_normalised_and_trimmed():
    assert check_text("  Zoë  ") == "Zoë"
    assert check_text("Zoe\u0308") == "Zoë"  # NFD in, NFC out
    assert check_text("محمد") == "محمد"  # right-to-left scripts are fine; overrides are not
    assert check_text("a\r\nb\tc", multiline=True) == "a\nb\tc"
    assert check_text("", allow_blank=True) == ""


def test_ascii_only_and_length():
    with pytest.raises(TextRefused):
        check_text("١٢٣٤٥٦", ascii_only=True)  # Arabic-Indic digits
    with pytest.raises(TextRefused):
        check_text("\uff11\uff12\uff13\uff14\uff15\uff16", ascii_only=True)  # fullwidth digits
    with pytest.raises(TextRefused):
        check_text("abcd", max_chars=3)
