"""Orders CSV files shaped like the ones users drop into the landing bucket."""

HEADER = "order_id,order_date,customer_id,product,quantity,unit_price\n"


def orders_csv(rows: int, first_id: int = 1) -> bytes:
    lines = [
        f"{first_id + i},2024-06-{1 + i % 28:02d},C{100 + i % 7},Ceramic mug,{1 + i % 4},9.90\n" for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


def write_unique_orders_csv(path, megabytes: float) -> int:
    """A valid orders CSV of about `megabytes` MB written straight to `path`, every order_id
    distinct and prices in cents; returns its rows."""
    rows, block = 0, 100_000
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        while out.tell() < megabytes * 10**6:
            out.write("".join(
                f"{i},2024-05-{i % 28 + 1:02d},C{i % 9973},Product {i % 97},{i % 7 + 1},{i % 1000}.{i % 100:02d}\n"
                for i in range(rows, rows + block)
            ))
            rows += block
    return rows
