"""The second pass over a dropped orders CSV (see ingestion/parsing.py): the file, which
`check_text` has vetted, read by pyarrow in blocks, each converted to the orders types with
vectorized checks and appended to a Parquet file.

A module of its own so that only runs load pyarrow: the code server, which imports the
definitions and evaluates the sensors, stays about 30 MiB smaller without it (measured).
"""

import ctypes
import ctypes.util
import functools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from ingestion.parsing import LIMITS, IngestStats, InvalidFile, Limits, TextCheck, shown
from ingestion.types import ORDERS_COLUMNS, orders_schema

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
    """Convert a CSV that passed `check_text` into a Parquet file with the orders schema."""
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
    stats, day_counts, schema = IngestStats(), Counter(), orders_schema()
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for batch in _batches(stream, block_size):
            columns = [
                _convert_column(batch.column(column), schema.field(column).type, column, stats.num_rows, text, name)
                for column in ORDERS_COLUMNS
            ]
            typed = pa.RecordBatch.from_arrays(columns, schema=schema)
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
