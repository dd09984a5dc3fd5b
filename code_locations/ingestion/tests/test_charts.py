"""The rows-per-day chart: a PNG any viewer decodes, with one bar per value at its height."""

import struct
import zlib

from hypothesis import given
from hypothesis import strategies as st

from ingestion.charts import _AXIS, _BACKGROUND, _BAR, bar_chart_png

WIDTH, HEIGHT = 96, 40


def decode(png: bytes) -> tuple[list[int], list[list[tuple[int, int, int]]]]:
    """Each scanline's filter type and its pixels, undoing the filters the chart may use (0 and 2)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, data, size = 8, b"", None
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind, body = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        assert struct.unpack(">I", png[position + 8 + length : position + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:] == bytes([8, 2, 0, 0, 0])  # 8-bit RGB, no interlace
        data += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height = size
    raw, stride = zlib.decompress(data), 3 * width + 1
    filters, rows, above = [], [], bytes(3 * width)
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] in (0, 2), f"row {y} uses filter {line[0]}"
        row = line[1:] if line[0] == 0 else bytes((a + b) & 0xFF for a, b in zip(line[1:], above, strict=True))
        filters.append(line[0])
        rows.append([tuple(row[x : x + 3]) for x in range(0, len(row), 3)])
        above = row
    return filters, rows


def column_heights(rows) -> list[int]:
    """How many pixels of bar colour stand in each column above the axis."""
    return [sum(1 for row in rows[: HEIGHT - 5] if row[x] == _BAR) for x in range(WIDTH)]


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=24))
def test_each_value_is_a_bar_of_its_height_over_a_baseline(values):
    _, rows = decode(bar_chart_png(values, WIDTH, HEIGHT))
    slot, top = WIDTH / len(values), max(values) or 1
    heights = column_heights(rows)
    for index, value in enumerate(values):
        middle = int((index + 0.5) * slot)
        assert heights[middle] == round((HEIGHT - 10) * value / top)
    assert rows[HEIGHT - 5] == [_AXIS] * WIDTH
    assert all(row == [_BACKGROUND] * WIDTH for row in rows[HEIGHT - 4 :])


def test_a_row_like_the_one_above_it_is_stored_as_unchanged():
    # Filter 2 stores a row as its difference from the one above: all zeros when they match, which
    # is what keeps a chart made for every ingested file small and quick to compress.
    filters, rows = decode(bar_chart_png([1, 2, 3, 4], WIDTH, HEIGHT))
    repeated = [y for y in range(1, HEIGHT) if rows[y] == rows[y - 1]]
    assert repeated and all(filters[y] == 2 for y in repeated)
    assert all(filters[y] == 0 for y in range(HEIGHT) if y not in repeated)
