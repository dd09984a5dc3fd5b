"""Orders CSV files shaped like the ones users drop into the landing bucket."""

HEADER = "order_id,order_date,customer_id,product,quantity,unit_price\n"


def orders_csv(rows: int, first_id: int = 1) -> bytes:
    lines = [
        f"{first_id + i},2024-06-{1 + i % 28:02d},C{100 + i % 7},Ceramic mug,{1 + i % 4},9.90\n" for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


def write_orders_csv(path, min_bytes: int, rows_per_block: int = 100_000) -> int:
    """Writes an orders CSV of at least `min_bytes` to `path`, block by block (memory stays small;
    every order_id unique); returns its rows."""
    rows = 0
    with open(path, "wb") as out:
        out.write(HEADER.encode())
        while out.tell() < min_bytes:
            out.write(orders_csv(rows_per_block, rows + 1).removeprefix(HEADER.encode()))
            rows += rows_per_block
    return rows
