"""Validating and converting a dropped orders CSV, in bounded memory.

Two streaming passes over a local copy of the file:
1. `check_text` reads it line by line with the csv module: UTF-8, no NUL bytes, exact header,
   six fields per row. It knows line numbers, so its messages can point at the exact line.
2. `csv_to_parquet` lets pyarrow read the (now well-formed) file in blocks as strings, converts
   each block to the orders types with vectorized checks, and appends it to a Parquet file.
Neither pass holds more than one line or one block in memory.
"""

import bisect
import codecs
import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from ingestion.types import ORDERS_COLUMNS, ORDERS_SCHEMA

SUPPORTED_EXTENSIONS = (".csv",)

_INTEGER = r"^\s*-?\d{1,18}\s*$"
_DECIMAL = r"^\s*-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"


class InvalidFile(Exception):
    """The dropped file cannot be ingested; the message says which file, where and why."""

    def __init__(self, name: str, problem: str, line: int | None = None, column: str | None = None):
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
            f"unsupported file type '{suffix or '(no extension)'}'; only "
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


def _decoded_lines(path: Path, name: str):
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as raw:
        for number, chunk in enumerate(raw, start=1):
            if b"\x00" in chunk:
                raise InvalidFile(
                    name, "contains NUL bytes: this looks like a binary file, not CSV text", number
                )
            try:
                text = decoder.decode(chunk)
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


def check_text(path: Path, name: str) -> TextCheck:
    if path.stat().st_size == 0:
        raise InvalidFile(name, "the file is empty (0 bytes)")
    reader = csv.reader(_decoded_lines(path, name), strict=True)
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
        details.append(f"unexpected {unexpected}")
    if not details:
        details.append("columns are in the wrong order")
    raise InvalidFile(
        name,
        f"wrong header {header}: {'; '.join(details)}; expected exactly {list(ORDERS_COLUMNS)}",
        line=1,
    )


@dataclass
class IngestStats:
    num_rows: int = 0
    preview: list[dict] = field(default_factory=list)
    rows_per_day: Counter = field(default_factory=Counter)
    null_counts: Counter = field(default_factory=Counter)


def _first_true(mask: pa.Array) -> int | None:
    index = pc.index(mask, True).as_py()
    return None if index < 0 else index


def _convert_column(
    values: pa.Array, target: pa.DataType, column: str, first_row: int, text: TextCheck, name: str
) -> pa.Array:
    if pa.types.is_string(target):
        return values
    parsed = None
    if pa.types.is_date(target):
        parsed = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
        # Formatting the parsed date back catches days that do not exist (2024-02-30 rolls over).
        wrong = pc.or_kleene(pc.is_null(parsed), pc.not_equal(pc.strftime(parsed, format="%Y-%m-%d"), values))
        expected = "a date like 2024-05-31"
    else:
        pattern, expected = (
            (_INTEGER, "a whole number") if pa.types.is_integer(target) else (_DECIMAL, "a number like 12.50")
        )
        wrong = pc.invert(pc.match_substring_regex(values, pattern))
    index = _first_true(pc.fill_null(pc.and_(pc.is_valid(values), wrong), False))
    if index is not None:
        raise InvalidFile(
            name,
            f"'{values[index].as_py()}' is not {expected}",
            line=text.line_of_row(first_row + index),
            column=column,
        )
    if parsed is not None:
        return pc.cast(parsed, pa.date32())
    return pc.cast(pc.utf8_trim_whitespace(values), target)


def csv_to_parquet(
    source: Path,
    target: Path,
    name: str,
    text: TextCheck,
    block_size: int = 4 << 20,
    preview_rows: int = 5,
) -> IngestStats:
    """Convert a CSV that passed `check_text` into a Parquet file with ORDERS_SCHEMA."""
    # A Python file object, not the path: given a path, Arrow reads far ahead of the batches we
    # consume (measured: memory grows with the file); through a file object it stays at a few blocks.
    with source.open("rb") as stream:
        return _convert(stream, target, name, text, block_size, preview_rows)


def _convert(stream, target: Path, name: str, text: TextCheck, block_size: int, preview_rows: int) -> IngestStats:
    reader = pv.open_csv(
        stream,
        read_options=pv.ReadOptions(column_names=list(ORDERS_COLUMNS), skip_rows=1, block_size=block_size),
        parse_options=pv.ParseOptions(newlines_in_values=False),
        convert_options=pv.ConvertOptions(
            column_types={column: pa.string() for column in ORDERS_COLUMNS},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    stats = IngestStats()
    with pq.ParquetWriter(target, ORDERS_SCHEMA, compression="zstd") as writer:
        for batch in reader:
            columns = [
                _convert_column(batch.column(column), ORDERS_SCHEMA.field(column).type, column, stats.num_rows, text, name)
                for column in ORDERS_COLUMNS
            ]
            typed = pa.RecordBatch.from_arrays(columns, schema=ORDERS_SCHEMA)
            # write_table closes a row group per block; write_batch would buffer up to 1M rows.
            writer.write_table(pa.Table.from_batches([typed]))
            if len(stats.preview) < preview_rows:
                stats.preview.extend(typed.slice(0, preview_rows - len(stats.preview)).to_pylist())
            for day in pc.value_counts(typed.column("order_date")).to_pylist():
                if day["values"] is not None:
                    stats.rows_per_day[day["values"]] += day["counts"]
            for column in ORDERS_COLUMNS:
                stats.null_counts[column] += typed.column(column).null_count
            stats.num_rows += typed.num_rows
    return stats
