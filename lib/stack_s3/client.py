"""The stack's S3 client as a Dagster resource, one boto3 client per process and endpoint."""

import functools
import threading

import boto3
import dagster as dg
from botocore.config import Config
from botocore.exceptions import ClientError

_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
# boto3 clients are safe to share between threads, but not to create from several at once.
_creating = threading.Lock()


@functools.cache
def shared_client(endpoint_url: str | None, region_name: str | None):
    with _creating:
        # A sensor lists the bucket every few seconds: building a fresh client each time cost
        # more CPU than the listing itself.
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region_name or None,
            config=Config(max_pool_connections=16),
        )


class S3(dg.ConfigurableResource):
    """Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."""

    endpoint_url: str | None = None
    region_name: str | None = None

    def get_client(self):
        return shared_client(self.endpoint_url, self.region_name)


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND
