"""Cell values from dropped files render as plain text in the UI's markdown, never as markup."""

import html
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from stack_markdown.inert import MAX_CELL_CHARS, inert_text

from ingestion.ingest import preview_markdown
from ingestion.parsing import IngestStats
from ingestion.types import ORDERS_COLUMNS

# The worst case for an attacker's benefit: raw HTML allowed, GFM tables and strikethrough on.
RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td"}

HOSTILE_CELLS = [
    "![x](http://127.0.0.1:3000/graphql?query=mutation{launchRun(x:1){__typename}})",
    '<img src="http://127.0.0.1:3000/graphql?query=mutation">',
    "[a](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<http://evil.example/>",
    "[ref]\n\n[ref]: http://evil.example/",
    "`code` and ``more``",
    "a | b | c",
    "line one\nline two\r\n| x | y |",
    "&lt;img src=x&gt; &#60;b&#62;",
    "**bold** _it_ ~~gone~~ # head",
    "\\![x](http://e/)",
    "www.evil.example and http://evil.example",
]


def render_preview(cells: list[str]) -> str:
    rows = [dict(zip(ORDERS_COLUMNS, cells[i : i + 6] + [""] * 6, strict=False)) for i in range(0, len(cells), 6)]
    return RENDERER.render(preview_markdown(IngestStats(preview=rows)))


def flat(text: str) -> str:
    """What a cell may show instead of its text: control characters and line breaks as spaces."""
    return "".join(" " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in text)


def test_hostile_cells_render_as_their_own_text():
    rendered = render_preview(HOSTILE_CELLS)
    assert set(re.findall(r"<\s*/?\s*([a-zA-Z]+)", rendered)) <= TABLE_TAGS, rendered
    cells = [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", rendered, re.DOTALL)]
    assert cells[: len(HOSTILE_CELLS)] == [flat(cell) for cell in HOSTILE_CELLS]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=12))
def test_any_cells_render_as_plain_text_in_their_own_cell(cells):
    rendered = render_preview(cells)
    assert set(re.findall(r"<\s*/?\s*([a-zA-Z]+)", rendered)) <= TABLE_TAGS
    shown = [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", rendered, re.DOTALL)]
    # A table cell loses its outer spaces: harmless.
    expected = [flat(cell).strip() for cell in cells]
    assert [cell.strip() for cell in shown[: len(cells)]] == expected


@pytest.mark.parametrize("value", ["x" * 5000, "é" * 5000])
def test_long_cells_are_cut(value):
    assert len(inert_text(value).replace("\\", "")) == MAX_CELL_CHARS
