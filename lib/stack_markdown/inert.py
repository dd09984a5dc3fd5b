"""Text from dropped files (cells, keys), made inert for Dagster's markdown metadata.

A cell such as `![x](http://127.0.0.1:3000/graphql?query=mutation...)` would otherwise be rendered
live in the UI (a request made by every viewer's browser), as would HTML, links and autolinks.
CommonMark lets a backslash escape every ASCII punctuation character, and an escaped character
is always literal text: so every one is escaped, and line breaks, which end a table row, become
spaces.
"""

import string
import unicodedata

MAX_CELL_CHARS = 80
_ESCAPED = str.maketrans({char: "\\" + char for char in string.punctuation})


def _flat(char: str) -> str:
    # Controls, line and paragraph separators (\n, \r, \x85, \u2028, ...) would break the table row.
    return " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char


def inert_text(value: object, max_chars: int = MAX_CELL_CHARS) -> str:
    """`value` as markdown that renders as exactly its text, cut to `max_chars` characters."""
    text = "" if value is None else str(value)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return "".join(map(_flat, text)).translate(_ESCAPED)


def markdown_table(columns: list[str], rows: list[list[object]]) -> str:
    """A markdown table whose every cell is inert text."""
    lines = ["| " + " | ".join(map(inert_text, columns)) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(map(inert_text, row)) + " |" for row in rows]
    return "\n".join(lines)
