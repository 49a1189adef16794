"""Text in any script in the PDF: drawn with embedded fonts from installed packages, given back as text."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader

from ktpledger.reports import render
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement
from tests.reports.conftest import Documents, statement
from tests.reports.scenarios import (
    ARABIC_KNOWLEDGE_BASE,
    EMOJI_BUSINESS,
    GREEK_JAPANESE_TITLE,
    KOREAN_HEBREW_MINUTE,
    NO_FONT_HAS,
)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def embedded_fonts(data: bytes) -> dict[str, bool]:
    """Each font the PDF uses, by its base name without the subset tag, and whether it is embedded."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant.get("/FontDescriptor")
            embedded = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            fonts[str(font["/BaseFont"]).split("+")[-1]] = embedded
    return fonts


def test_a_reconciliation_in_greek_japanese_arabic_hebrew_korean_and_emoji(many_scripts: Documents) -> None:
    data = render(ReconciliationStatement.from_json(many_scripts[0]), "pdf")
    text = pdf_text(data)
    for words in ("Ελληνικά", "日本語", "品質管理", "🍞", "회의록", "פרוטוקול"):
        assert words in text, words
    assert GREEK_JAPANESE_TITLE in text
    assert EMOJI_BUSINESS in text
    fonts = embedded_fonts(data)
    assert all(fonts.values()), fonts  # no font left to the reader's machine
    assert {"OpenSans", "OpenSansBold"} <= set(fonts), fonts


def test_the_claim_pack_draws_the_title_too(many_scripts: Documents) -> None:
    text = pdf_text(render(ClaimPack.from_json(many_scripts[1]), "pdf"))
    assert "Ελληνικά" in text and "日本語" in text


def test_only_the_fonts_a_document_needs_are_embedded(lifecycle: Documents, many_scripts: Documents) -> None:
    plain = embedded_fonts(render(ReconciliationStatement.from_json(lifecycle[0]), "pdf"))
    assert set(plain) == {"OpenSans", "OpenSansBold"}, plain
    scripts = embedded_fonts(render(ReconciliationStatement.from_json(many_scripts[0]), "pdf"))
    assert set(scripts) > set(plain), scripts


def test_fonts_are_subsets_so_the_pdf_stays_small(lifecycle: Documents, many_scripts: Documents) -> None:
    # The CJK font alone is 5 MB and Open Sans 100 kB: embedded whole, neither would fit.
    assert len(render(ReconciliationStatement.from_json(lifecycle[0]), "pdf")) < 80_000
    assert len(render(ReconciliationStatement.from_json(many_scripts[0]), "pdf")) < 150_000


def test_a_character_no_font_has_is_a_replacement_glyph_not_a_crash(many_scripts: Documents) -> None:
    odd = dict(many_scripts[0], title=f"before {NO_FONT_HAS} after \u2060joined")
    text = pdf_text(render(ReconciliationStatement.from_json(odd), "pdf"))
    assert "before \ufffd after" in text
    assert NO_FONT_HAS not in text
    assert "joined" in text


def test_the_same_document_in_many_scripts_gives_the_same_bytes(many_scripts: Documents) -> None:
    for kind, document in zip(("reconciliation", "claim_pack"), many_scripts, strict=True):
        again = json.loads(json.dumps(document))
        assert render(statement(kind, document), "pdf") == render(statement(kind, again), "pdf"), kind


def test_arabic_is_shaped_and_each_letter_is_text(many_scripts: Documents) -> None:
    """Arabic is drawn joined, right to left (HarfBuzz); every letter comes back as text. pypdf gives
    a shaped right-to-left run back in the order it was drawn and reads the dots Noto Sans Arabic
    draws as separate glyphs as codes of their own, so the letters are compared, not the string."""
    text = pdf_text(render(ReconciliationStatement.from_json(many_scripts[0]), "pdf"))
    cell = text[text.index("Knowledge base ") : text.index("Business ")]
    letters = [char for char in cell if "\u0600" <= char <= "\u06ff"]
    assert sorted(letters) == sorted(ARABIC_KNOWLEDGE_BASE.replace(" ", ""))


def test_headings_after_right_to_left_text_stay_left_to_right(many_scripts: Documents) -> None:
    # The Hebrew minute is the last cell before "Parental leave": its direction must not leak.
    text = pdf_text(render(ReconciliationStatement.from_json(many_scripts[0]), "pdf"))
    assert "Parental leave" in text and "evael latneraP" not in text
    assert KOREAN_HEBREW_MINUTE.split(" — ")[0] in text
