"""Listing a bucket: the one paginator every caller shares."""

from collections.abc import Iterator


def iter_objects(client, bucket: str, prefix: str = "", delimiter: str = "") -> Iterator[dict]:
    """Every page of `list_objects_v2`, flattened: objects as they come, then their common
    prefixes (as {"Prefix": ...}) when `delimiter` is given."""
    arguments = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        arguments["Delimiter"] = delimiter
    for page in client.get_paginator("list_objects_v2").paginate(**arguments):
        yield from page.get("Contents", [])
        yield from page.get("CommonPrefixes", [])
