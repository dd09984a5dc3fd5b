"""One-shot init: create the stack's buckets in the S3 store (MinIO or its stand-in), if missing.

Existing buckets and their objects are left alone, so running it again is harmless.
"""

import os
import sys
import time

import boto3
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

BUCKET_VARIABLES = ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")


def bucket_names() -> list[str]:
    missing = [name for name in BUCKET_VARIABLES if not os.environ.get(name)]
    if missing:
        sys.exit(f"create_buckets: set {', '.join(missing)} (see .env.example)")
    return [os.environ[name] for name in BUCKET_VARIABLES]


def ensure_bucket(s3, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        print(f"bucket {bucket}: exists")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
        s3.create_bucket(Bucket=bucket)
        print(f"bucket {bucket}: created")


def still_starting(error: Exception) -> bool:
    """The store is not up yet (this service starts beside it, not once it is healthy): not
    listening, or answering with a server error while it starts."""
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return isinstance(error, (EndpointConnectionError, ConnectionClosedError))


def main() -> None:
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    deadline = time.monotonic() + 120
    for bucket in bucket_names():
        while True:
            try:
                ensure_bucket(s3, bucket)
                break
            except (ClientError, EndpointConnectionError, ConnectionClosedError) as error:
                if not still_starting(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


if __name__ == "__main__":
    main()
