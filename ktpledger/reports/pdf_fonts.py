"""The PDF's fonts: Unicode TrueType fonts from installed Python packages, embedded as subsets.

Titles, parties, minutes and justifications may be in any script, and a PDF that leaves fonts to the
reader's machine shows boxes where that machine lacks them, so every glyph drawn comes from a font
embedded in the file. The fonts are PyPI dependencies of ktpledger (pyproject.toml), never system
fonts, never files copied into this repository:

- **Open Sans** (`ttf-opensans`, Apache 2.0), regular and bold: Latin, Greek and Cyrillic, `£`,
  dashes, curly quotes and U+FFFD. It draws the whole of most reports.
- **Fallbacks**, tried in this order for a character the fonts before them lack: Noto Sans (more
  Latin, Greek and Cyrillic), Noto Sans Symbols (arrows, signs), Noto Emoji (monochrome), then Noto
  Sans for Arabic, Hebrew, Armenian, Georgian, Ethiopic, Thai, Lao, Khmer, Myanmar, Sinhala and the
  Indic scripts (all `manimgx-fonts`, OFL 1.1), then WenQuanYi Micro Hei for Chinese, Japanese and
  Korean (`paperang-p2-fonts-cjk`, Apache 2.0). The Noto files are variable fonts, embedded at
  their default instance (regular weight): instancing them costs seconds each, so a fallback is
  regular even inside bold text.

A fallback is added to a document only when its text has a character that needs it (reading a
font's character map once per process), so a report in English embeds only Open Sans, and fpdf2
embeds only the glyphs drawn (a subset). A character no font has is drawn as U+FFFD, the
replacement character; an invisible format character no font has (a zero-width joiner, a
variation selector) is left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont

REPLACEMENT = "\ufffd"
KEPT_CONTROLS = frozenset("\n\r\t")


@dataclass(frozen=True)
class Face:
    """One font file of an installed package, by the family name fpdf2 knows it by."""

    family: str
    package: str
    file: str
    collection: int = 0  # the face's number in a font collection (.ttc)

    @property
    def path(self) -> Path:
        return Path(str(resources.files(self.package).joinpath(self.file)))


FAMILY = "opensans"
REGULAR = Face(FAMILY, "ttf_opensans", "ttf/OpenSans-Regular.ttf")
BOLD = Face(FAMILY, "ttf_opensans", "ttf/OpenSans-Bold.ttf")


def _noto(name: str) -> Face:
    return Face(name.lower(), "manimgx_fonts", f"{name}[wght].ttf")


FALLBACKS: tuple[Face, ...] = (
    _noto("NotoSans"),
    _noto("NotoSansSymbols"),
    _noto("NotoEmoji"),
    *(
        _noto(f"NotoSans{script}")
        for script in (
            "Arabic",
            "Hebrew",
            "Armenian",
            "Georgian",
            "Ethiopic",
            "Thai",
            "Lao",
            "Khmer",
            "Myanmar",
            "Sinhala",
            "Devanagari",
            "Bengali",
            "Gurmukhi",
            "Gujarati",
            "Oriya",
            "Tamil",
            "Telugu",
            "Kannada",
            "Malayalam",
        )
    ),
    Face("wqymicrohei", "paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc"),
)


@cache
def coverage(face: Face) -> frozenset[int]:
    """The code points `face` has a glyph for."""
    font = TTFont(face.path, fontNumber=face.collection, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


@cache
def _primary() -> frozenset[int]:
    """What both weights of the body font draw: only these stay with it."""
    return coverage(REGULAR) & coverage(BOLD)


@cache
def face_for(char: str) -> Face | None:
    """The first font that draws `char`: the body font, else a fallback; None when none does."""
    point = ord(char)
    if point in _primary():
        return REGULAR
    return next((face for face in FALLBACKS if point in coverage(face)), None)


def _invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or "VARIATION SELECTOR" in unicodedata.name(char, "")


@cache
def _drawn(char: str) -> str:
    if char in KEPT_CONTROLS or face_for(char) is not None:
        return char
    return "" if _invisible(char) else REPLACEMENT


def drawable(text: str) -> str:
    """`text` as the PDF draws it: composed (NFC, so a letter and its accent are one glyph), with
    U+FFFD for each character no embedded font has and no invisible character no font has."""
    return "".join(_drawn(char) for char in unicodedata.normalize("NFC", text))


def fallbacks_for(texts: Iterable[str]) -> tuple[Face, ...]:
    """The fallback fonts the drawable `texts` need, in fallback order."""
    needed = {face_for(char) for char in set().union(*texts)} - {REGULAR, None}
    return tuple(face for face in FALLBACKS if face in needed)


RIGHT_TO_LEFT = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI"})


def needs_shaping(text: str) -> bool:
    """True when drawing `text` right needs a shaping engine: a right-to-left character (Hebrew,
    Arabic: order, and joining) or a combining mark (Indic and Thai vowel signs, accents that NFC
    cannot compose)."""
    return any(
        unicodedata.category(char).startswith("M") or unicodedata.bidirectional(char) in RIGHT_TO_LEFT
        for char in set(text)
    )
