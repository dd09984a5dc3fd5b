"""Uploads one file, read from stdin, into the landing bucket: `make drop FILE=path [KEY=name]`.

It runs inside the stack's webserver container, so the host needs no S3 client or credentials.
"""

import os
import sys

import boto3


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: drop.py KEY < FILE")
    key, bucket = sys.argv[1], os.environ["LANDING_BUCKET"]
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    s3.upload_fileobj(sys.stdin.buffer, bucket, key)
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    print(f"Dropped s3://{bucket}/{key} ({size} bytes); the landing sensor picks it up within seconds.")


if __name__ == "__main__":
    main()
