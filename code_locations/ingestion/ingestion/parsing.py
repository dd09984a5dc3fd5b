"""Validating and converting a dropped orders CSV, in memory bounded by `Limits`, whatever it holds.

Two streaming passes over a local copy of the file:
1. `check_text` reads it line by line with the csv module: UTF-8, no NUL bytes, no stray carriage
   returns, exact header, six fields per row, no line over `Limits.max_line_bytes`. It knows line
   numbers, so its messages can point at the exact line.
2. `csv_to_parquet` lets pyarrow read the (now well-formed) file in blocks as strings, converts
   each block to the orders types with vectorized checks, and appends it to a Parquet file.
Neither pass holds more than one line or one block in memory. Anything wrong with the file, however
hostile, raises `InvalidFile` with a message of bounded length; nothing else is the file's fault.
"""

import bisect
import csv
import ctypes
import ctypes.util
import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from ingestion.types import ORDERS_COLUMNS, ORDERS_SCHEMA

SUPPORTED_EXTENSIONS = (".csv",)
# Every message stays readable in a report and a run's event log, however long the bad value.
MAX_PROBLEM_CHARS = 500
MAX_VALUE_CHARS = 60

_INTEGER = r"^\s*-?\d+\s*$"
# A plain decimal: no exponent, no sign but a minus, no NaN or infinity; a price is exact cents.
_DECIMAL = r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$"
# Exact cents of DECIMAL(18,2). Checked before the cast: Arrow turned "9.9" followed by 5,000
# zeros into 0.00 without a word (measured, pyarrow 26).
_CENTS = r"^\s*-?(\d{1,16}(\.\d{0,2})?|\.\d{1,2})\s*$"
# Orders outside these days are typos; the bound also caps the per-day counts kept in memory.
EARLIEST_ORDER_DATE = date(1900, 1, 1)
LATEST_ORDER_DATE = date(2199, 12, 31)
_EPOCH = date(1970, 1, 1)


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


def _first_true(mask: pa.Array) -> int | None:
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index < 0 else index


class _BadValue(Exception):
    def __init__(self, index: int, problem: str):
        self.index, self.problem = index, problem


def _reject_first(values: pa.Array, wrong: pa.Array, problem: str) -> None:
    index = _first_true(pc.and_(pc.is_valid(values), wrong))
    if index is not None:
        raise _BadValue(index, f"{shown(values[index].as_py())} {problem}")


def _cast_or_reject(values: pa.Array, target: pa.DataType, problem: str) -> pa.Array:
    try:
        return pc.cast(values, target)
    except pa.ArrowInvalid:
        # Rare (a value out of the type's range): find which one, one value at a time.
        for index in range(len(values)):
            try:
                pc.cast(values.slice(index, 1), target)
            except pa.ArrowInvalid:
                raise _BadValue(index, f"{shown(values[index].as_py())} {problem}") from None
        raise


def _to_date(values: pa.Array) -> pa.Array:
    parsed = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
    # Formatting the parsed date back catches days that do not exist (2024-02-30 rolls over).
    wrong = pc.or_kleene(pc.is_null(parsed), pc.not_equal(pc.strftime(parsed, format="%Y-%m-%d"), values))
    _reject_first(values, wrong, "is not a date like 2024-05-31")
    days = pc.cast(parsed, pa.date32())
    outside = pc.or_(pc.less(days, pa.scalar(EARLIEST_ORDER_DATE)), pc.greater(days, pa.scalar(LATEST_ORDER_DATE)))
    _reject_first(values, outside, f"is outside {EARLIEST_ORDER_DATE} to {LATEST_ORDER_DATE}")
    return days


def _to_integer(values: pa.Array, target: pa.DataType) -> pa.Array:
    _reject_first(values, pc.invert(pc.match_substring_regex(values, _INTEGER)), "is not a whole number")
    return _cast_or_reject(pc.utf8_trim_whitespace(values), target, f"is out of range for {target}")


def _to_decimal(values: pa.Array, target: pa.DataType) -> pa.Array:
    _reject_first(values, pc.invert(pc.match_substring_regex(values, _DECIMAL)), "is not a number like 12.50")
    digits = target.precision - target.scale
    assert _CENTS.count("{1,16}") and (digits, target.scale) == (16, 2), "_CENTS spells out DECIMAL(18,2)"
    _reject_first(
        values, pc.invert(pc.match_substring_regex(values, _CENTS)),
        f"is not exact to {target.scale} decimals or is too large (at most {digits} digits before the point)",
    )
    return _cast_or_reject(pc.utf8_trim_whitespace(values), target, "is out of range")


def _convert_column(
    values: pa.Array, target: pa.DataType, column: str, first_row: int, text: TextCheck, name: str
) -> pa.Array:
    try:
        if pa.types.is_string(target):
            return values
        if pa.types.is_date(target):
            return _to_date(values)
        if pa.types.is_integer(target):
            return _to_integer(values, target)
        return _to_decimal(values, target)
    except _BadValue as bad:
        raise InvalidFile(name, bad.problem, line=text.line_of_row(first_row + bad.index), column=column) from None


@functools.cache
def bound_native_memory() -> None:
    """Keeps memory freed by pyarrow from piling up in the process.

    Arrow's default pool (mimalloc) and glibc's per-thread arenas keep freed pages for reuse, each
    thread its own: how much stays resident depended on which compute thread had run which
    kernel, so the same file peaked anywhere between 230 and 270 MiB (measured). One system pool
    and two malloc arenas keep the converter's own working set, about 70 MiB, whatever the file.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    libc = ctypes.util.find_library("c")
    if libc:
        m_arena_max = -8  # glibc's mallopt parameter number; arenas made from now on are capped
        ctypes.CDLL(libc).mallopt(m_arena_max, 2)


def csv_to_parquet(
    source: Path,
    target: Path,
    name: str,
    text: TextCheck,
    block_size: int = 1 << 20,
    preview_rows: int = 5,
    limits: Limits = LIMITS,
) -> IngestStats:
    """Convert a CSV that passed `check_text` into a Parquet file with ORDERS_SCHEMA."""
    bound_native_memory()
    # pyarrow cannot read a row longer than a block; check_text let rows up to max_line_bytes through.
    block_size = max(block_size, 2 * limits.max_line_bytes)
    with source.open("rb") as stream:
        try:
            return _convert(stream, target, name, text, block_size, preview_rows)
        except pa.ArrowInvalid as error:
            # check_text has vetted the text, so this should not happen; if it does, it is still
            # about the file's content, and the file must be reported rather than retried.
            raise InvalidFile(name, f"could not be read as CSV ({error})") from None


def _pieces(stream, size: int):
    """The data lines, in pieces of about `size` bytes that end at a line end.

    pyarrow's streaming reader reads ahead of its consumer without bound (measured: memory grew
    with the file, whether given a path or a file object); one piece at a time caps it. After
    check_text every line is one row, so a piece never cuts a row.
    """
    stream.readline()
    while piece := stream.read(size):
        yield piece + stream.readline()


def _batches(stream, block_size: int):
    options = {
        "read_options": pv.ReadOptions(column_names=list(ORDERS_COLUMNS), block_size=block_size, use_threads=False),
        "parse_options": pv.ParseOptions(newlines_in_values=False),
        "convert_options": pv.ConvertOptions(
            column_types={column: pa.string() for column in ORDERS_COLUMNS},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }
    for piece in _pieces(stream, block_size):
        yield from pv.read_csv(pa.py_buffer(piece), **options).to_batches()


def _convert(stream, target: Path, name: str, text: TextCheck, block_size: int, preview_rows: int) -> IngestStats:
    stats, day_counts = IngestStats(), Counter()
    with pq.ParquetWriter(target, ORDERS_SCHEMA, compression="zstd") as writer:
        for batch in _batches(stream, block_size):
            columns = [
                _convert_column(batch.column(column), ORDERS_SCHEMA.field(column).type, column, stats.num_rows, text, name)
                for column in ORDERS_COLUMNS
            ]
            typed = pa.RecordBatch.from_arrays(columns, schema=ORDERS_SCHEMA)
            # write_table closes a row group per block; write_batch would buffer up to 1M rows.
            writer.write_table(pa.Table.from_batches([typed]))
            if len(stats.preview) < preview_rows:
                stats.preview.extend(typed.slice(0, preview_rows - len(stats.preview)).to_pylist())
            # Counted by day number: a dict and a date object per day and block cost 50 MB (measured).
            days = pc.value_counts(pc.cast(typed.column("order_date"), pa.int32()))
            for day, count in zip(days.field("values").to_pylist(), days.field("counts").to_pylist(), strict=False):
                if day is not None:
                    day_counts[day] += count
            for column in ORDERS_COLUMNS:
                stats.null_counts[column] += typed.column(column).null_count
            stats.num_rows += typed.num_rows
    stats.rows_per_day.update({_EPOCH + timedelta(days=day): count for day, count in day_counts.items()})
    return stats
