"""Uploads one file, read from stdin, into the landing bucket: `make drop FILE=path [KEY=name]`.

It runs inside the stack's webserver container, so the host needs no S3 client; `make drop` hands
it the uploader's key (S3_UPLOAD_*), which may put files into landing and do nothing else.
"""

import os
import sys

import boto3
from botocore.exceptions import ClientError

from stack_s3.storage import LANDING_RESERVED_PREFIXES


class CountingReader:
    """stdin, counting the bytes read: the uploader's key may not read the object back."""

    def __init__(self, stream):
        self.stream, self.size = stream, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.size += len(chunk)
        return chunk


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: drop.py KEY < FILE")
    key, bucket = sys.argv[1], os.environ["LANDING_BUCKET"]
    if key.startswith(LANDING_RESERVED_PREFIXES):
        sys.exit(
            f"error: keys under {' and '.join(LANDING_RESERVED_PREFIXES)} are where the stack keeps the files "
            f"it has handled; drop '{key}' under another key (KEY=...)"
        )
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    body = CountingReader(sys.stdin.buffer)
    try:
        s3.upload_fileobj(body, bucket, key)
    except ClientError as error:
        sys.exit(f"error: the store refused s3://{bucket}/{key}: {error.response['Error'].get('Message', error)}")
    print(f"Dropped s3://{bucket}/{key} ({body.size} bytes); the landing sensor picks it up within seconds.")


if __name__ == "__main__":
    main()
