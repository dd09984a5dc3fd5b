"""A tiny bar-chart PNG writer (no plotting library) and the markdown that embeds it."""

import base64
import struct
import zlib

_BACKGROUND = (255, 255, 255)
_BAR = (79, 67, 221)
_AXIS = (160, 160, 160)


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = b"".join(b"\x00" + row for row in rows)  # filter type 0 per scanline
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 9)) + chunk(b"IEND", b"")


def bar_chart_png(values: list[float], width: int = 480, height: int = 160) -> bytes:
    """Bars scaled to the largest value, left to right, on a white canvas with a baseline."""
    canvas = [[_BACKGROUND] * width for _ in range(height)]
    plot_height = height - 10
    top = max(values, default=0) or 1
    slot = width / max(len(values), 1)
    for index, value in enumerate(values):
        bar_height = round(plot_height * max(value, 0) / top)
        left, right = int(index * slot + slot * 0.15), max(int((index + 1) * slot - slot * 0.15), int(index * slot) + 1)
        for y in range(height - 5 - bar_height, height - 5):
            for x in range(left, min(right, width)):
                canvas[y][x] = _BAR
    for x in range(width):
        canvas[height - 5][x] = _AXIS
    return _png(width, height, [bytes(channel for pixel in row for channel in pixel) for row in canvas])


def markdown_image(png: bytes, alt: str, caption: str = "") -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})" + (f"\n\n{caption}" if caption else "")
