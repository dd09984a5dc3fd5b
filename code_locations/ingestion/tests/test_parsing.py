from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.conversion import csv_to_parquet
from ingestion.parsing import InvalidFile, TextCheck, check_extension, check_text
from ingestion.types import orders_schema
from tests.harness.repo import SAMPLES

HEADER = "order_id,order_date,customer_id,product,quantity,unit_price\n"


def ingest(path: Path, tmp_path: Path, **options):
    check_extension(path.name)
    text = check_text(path, path.name)
    return csv_to_parquet(path, tmp_path / "out.parquet", path.name, text, **options)


@pytest.mark.parametrize(
    "sample, line, column, words",
    [
        ("bad-empty.csv", None, None, "empty (0 bytes)"),
        ("bad-header-only.csv", None, None, "header but no data rows"),
        ("bad-wrong-columns.csv", 1, None, "missing ['order_id'"),
        ("bad-wrong-types.csv", 3, "quantity", "'two' is not a whole number"),
        ("bad-malformed.csv", 3, None, "malformed CSV"),
        ("bad-latin1.csv", 2, None, "not UTF-8"),
        ("bad-binary.csv", 1, None, "binary file"),
        ("bad-unsupported.json", None, None, "unsupported file type '.json'"),
    ],
)
def test_bad_samples_are_rejected_with_a_specific_message(sample, line, column, words, tmp_path):
    with pytest.raises(InvalidFile) as caught:
        ingest(SAMPLES / sample, tmp_path)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert words in str(error) and sample in str(error)


def test_good_sample_becomes_typed_parquet(tmp_path):
    stats = ingest(SAMPLES / "orders-2024-05-01.csv", tmp_path, preview_rows=3)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.equals(orders_schema()) and table.num_rows == stats.num_rows == 40
    assert len(stats.preview) == 3 and sum(stats.rows_per_day.values()) == 40


@pytest.mark.parametrize(
    "row, column, words",
    [
        ("1,2024-02-30,C1,Mug,1,9.90", "order_date", "not a date"),
        ("1,31/05/2024,C1,Mug,1,9.90", "order_date", "not a date"),
        ("1,2024-05-01,C1,Mug,1,9,90", None, "expected 6 fields, found 7"),
        ("1,2024-05-01,C1,Mug,1,abc", "unit_price", "not a number"),
        ("x1,2024-05-01,C1,Mug,1,1", "order_id", "not a whole number"),
    ],
)
def test_wrong_values_name_line_and_column(row, column, words, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "7,2024-05-01,C1,Mug,1,9.90\n\n" + row + "\n", encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        ingest(path, tmp_path)
    assert caught.value.line == 4 and caught.value.column == column and words in str(caught.value)


def test_empty_cells_become_nulls_and_bom_is_accepted(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("\ufeff" + HEADER + "1,2024-05-01,,Mug,,9.90\n", encoding="utf-8")
    stats = ingest(path, tmp_path)
    assert stats.null_counts["customer_id"] == 1 and stats.null_counts["quantity"] == 1


def test_line_numbers_account_for_blank_lines():
    text = TextCheck(data_rows=3, blank_lines=[3, 4, 7])
    assert [text.line_of_row(row) for row in range(4)] == [2, 5, 6, 8]


def test_large_file_converts_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    line = "{},2024-05-{:02d},C123456,Espresso beans 1kg,3,18.50\n"
    with path.open("w") as out:
        out.write(HEADER)
        for start in range(0, 600_000, 10_000):
            out.write("".join(line.format(i, 1 + i % 28) for i in range(start, start + 10_000)))
    assert path.stat().st_size > 30 * 2**20
    pool = pa.default_memory_pool()
    before = pool.max_memory()
    stats = ingest(path, tmp_path, block_size=1 << 20)
    assert stats.num_rows == 600_000
    # Arrow memory stays near a few blocks, far below the file size (the whole table would be ~30 MB).
    assert pool.max_memory() - before < 16 * 2**20
