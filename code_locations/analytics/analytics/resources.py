"""Resources: one S3 client configuration, and the warehouse bucket the IO managers write to."""

from pathlib import Path
from typing import Iterator

import dagster as dg
from dagster_aws.s3 import S3Resource

s3 = S3Resource(
    endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
    region_name=dg.EnvVar("AWS_REGION"),
)


class Warehouse(dg.ConfigurableResource):
    """The IO manager bucket, read directly where another location's tables are needed."""

    s3: S3Resource
    bucket: str

    def list_keys(self, prefix: str, suffix: str = "") -> Iterator[str]:
        pages = self.s3.get_client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for entry in page.get("Contents", []):
                if entry["Key"].endswith(suffix):
                    yield entry["Key"]

    def download(self, key: str, path: Path) -> None:
        self.s3.get_client().download_file(self.bucket, key, str(path))

    def put_text(self, key: str, text: str, content_type: str) -> str:
        self.s3.get_client().put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return f"s3://{self.bucket}/{key}"


warehouse = Warehouse(s3=s3, bucket=dg.EnvVar("IO_MANAGER_BUCKET"))
