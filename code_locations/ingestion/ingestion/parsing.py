"""Validating and converting a dropped orders CSV, in memory bounded by `Limits`, whatever it holds.

Two streaming passes over a local copy of the file:
1. `check_text` reads it line by line with the csv module: UTF-8, no NUL bytes, no stray carriage
   returns, exact header, six fields per row, no line over `Limits.max_line_bytes`. It knows line
   numbers, so its messages can point at the exact line.
2. `csv_to_parquet` (ingestion/conversion.py) lets pyarrow read the (now well-formed) file in
   blocks as strings, converts each block to the orders types with vectorized checks, and
   appends it to a Parquet file.
Neither pass holds more than one line or one block in memory. Anything wrong with the file, however
hostile, raises `InvalidFile` with a message of bounded length; nothing else is the file's fault.
"""

import bisect
import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.types import ORDERS_COLUMNS

SUPPORTED_EXTENSIONS = (".csv",)
# Every message stays readable in a report and a run's event log, however long the bad value.
MAX_PROBLEM_CHARS = 500
MAX_VALUE_CHARS = 60



@dataclass(frozen=True)
class Limits:
    """What a file may contain; together they bound the memory any file can make the parser use."""

    # The csv module and pyarrow hold a whole line (pyarrow: a whole block) at a time.
    max_line_bytes: int = 256 << 10
    # Their line numbers are kept so messages can name the line of a bad row.
    max_blank_lines: int = 10_000


LIMITS = Limits()


def shown(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """`value` quoted for a message, cut to `limit` characters."""
    text = repr(str(value))
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class InvalidFile(Exception):
    """The dropped file cannot be ingested; the message says which file, where and why."""

    def __init__(self, name: str, problem: str, line: int | None = None, column: str | None = None):
        if len(problem) > MAX_PROBLEM_CHARS:
            problem = problem[: MAX_PROBLEM_CHARS - 1] + "…"
        self.name, self.problem, self.line, self.column = name, problem, line, column
        where = "".join(
            [f", line {line}" if line is not None else "", f", column '{column}'" if column else ""]
        )
        super().__init__(f"{name}{where}: {problem}")

    def as_report(self) -> dict:
        return {"file": self.name, "line": self.line, "column": self.column, "problem": self.problem}


def check_extension(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise InvalidFile(
            name,
            f"unsupported file type {shown(suffix) if suffix else '(no extension)'}; only "
            f"{', '.join(SUPPORTED_EXTENSIONS)} files with the orders header are ingested",
        )


@dataclass
class TextCheck:
    data_rows: int
    # Line numbers of blank lines after the header: pyarrow skips them, so row -> line needs them.
    blank_lines: list[int] = field(default_factory=list)

    def line_of_row(self, row: int) -> int:
        """The 1-based line of the 0-based data row `row` (line 1 is the header)."""
        line = row + 2
        # Each blank line at or before the candidate line pushes the row one line further down.
        while True:
            shifted = row + 2 + bisect.bisect_right(self.blank_lines, line)
            if shifted == line:
                return line
            line = shifted


def _decoded_lines(path: Path, name: str, limits: Limits):
    with path.open("rb") as raw:
        number = 0
        # readline with a limit: a file without newlines must not be read whole.
        while chunk := raw.readline(limits.max_line_bytes + 1):
            number += 1
            if len(chunk) > limits.max_line_bytes:
                raise InvalidFile(
                    name, f"the line is longer than {limits.max_line_bytes} bytes; is this an orders CSV?", number
                )
            if b"\x00" in chunk:
                raise InvalidFile(
                    name, "contains NUL bytes: this looks like a binary file, not CSV text", number
                )
            # pyarrow ends a row at a bare \r where the csv module keeps it in a quoted value.
            if b"\r" in chunk.removesuffix(b"\r\n"):
                raise InvalidFile(
                    name, "has a carriage return (\\r) that does not end a line; save it with \\n or \\r\\n line ends", number
                )
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = chunk[error.start : error.start + 1].hex()
                raise InvalidFile(
                    name,
                    f"is not UTF-8 text (byte 0x{bad} at position {error.start + 1}); "
                    "save it as UTF-8 and drop it again",
                    number,
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield text


def check_text(path: Path, name: str, limits: Limits = LIMITS) -> TextCheck:
    if path.stat().st_size == 0:
        raise InvalidFile(name, "the file is empty (0 bytes)")
    reader = csv.reader(_decoded_lines(path, name, limits), strict=True)
    result = TextCheck(data_rows=0)
    previous_line = 0
    try:
        for fields in reader:
            line = reader.line_num
            if line - previous_line > 1:
                raise InvalidFile(name, "a quoted value spans several lines; keep each row on one line", line)
            previous_line = line
            if line == 1:
                _check_header(fields, name)
                continue
            if not fields:
                if len(result.blank_lines) >= limits.max_blank_lines:
                    raise InvalidFile(name, f"has more than {limits.max_blank_lines} blank lines", line)
                result.blank_lines.append(line)
                continue
            if len(fields) != len(ORDERS_COLUMNS):
                raise InvalidFile(
                    name, f"expected {len(ORDERS_COLUMNS)} fields, found {len(fields)}", line
                )
            result.data_rows += 1
    except csv.Error as error:
        start = previous_line + 1
        raise InvalidFile(name, f"malformed CSV in the row starting here ({error}); check its quotes", start) from None
    if previous_line == 0:
        raise InvalidFile(name, "the file contains no text")
    if result.data_rows == 0:
        raise InvalidFile(name, "has a header but no data rows")
    return result


def _listed(values: list[str], most: int = 8) -> str:
    listed = ", ".join(shown(value) for value in values[:most])
    return f"[{listed}{', …' if len(values) > most else ''}]"


def _check_header(fields: list[str], name: str) -> None:
    header = [value.strip() for value in fields]
    if header == list(ORDERS_COLUMNS):
        return
    missing = [column for column in ORDERS_COLUMNS if column not in header]
    unexpected = [column for column in header if column not in ORDERS_COLUMNS]
    details = []
    if missing:
        details.append(f"missing {missing}")
    if unexpected:
        details.append(f"unexpected {_listed(unexpected)}")
    if not details:
        details.append("columns are in the wrong order")
    raise InvalidFile(
        name,
        f"wrong header ({len(header)} fields): {'; '.join(details)}; expected exactly {list(ORDERS_COLUMNS)}",
        line=1,
    )


@dataclass
class IngestStats:
    num_rows: int = 0
    preview: list[dict] = field(default_factory=list)
    rows_per_day: Counter = field(default_factory=Counter)
    null_counts: Counter = field(default_factory=Counter)
