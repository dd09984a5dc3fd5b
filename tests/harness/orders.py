"""Orders CSV files shaped like the ones users drop into the landing bucket."""

HEADER = "order_id,order_date,customer_id,product,quantity,unit_price\n"


def orders_csv(rows: int, first_id: int = 1) -> bytes:
    lines = [
        f"{first_id + i},2024-06-{1 + i % 28:02d},C{100 + i % 7},Ceramic mug,{1 + i % 4},9.90\n" for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()
