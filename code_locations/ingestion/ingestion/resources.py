"""Resources: one S3 client configuration, and the landing zone built on it."""

import json
from pathlib import Path

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource

PROCESSED_PREFIX = "processed/"
QUARANTINE_PREFIX = "quarantine/"
ERROR_REPORT_SUFFIX = ".error.json"

# One S3 client configuration for the whole location, pointed at the stack's store. The landing
# zone, the IO manager and `landing_inventory` all use this same resource.
s3 = S3Resource(
    endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
    region_name=dg.EnvVar("AWS_REGION"),
)


class LandingZone(dg.ConfigurableResource):
    """The bucket users drop files into, and where their originals go once handled.

    Originals are copied to `processed/<key>` or `quarantine/<key>` (with
    `quarantine/<key>.error.json` saying why) before the landing copy is deleted, so nothing a
    user dropped is ever lost.
    """

    s3: S3Resource
    bucket: str

    def client(self):
        return self.s3.get_client()

    def head(self, key: str) -> dict | None:
        try:
            return self.client().head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def download(self, key: str, path: Path) -> None:
        # download_file streams to disk (multipart ranges for big objects): memory stays small.
        self.client().download_file(self.bucket, key, str(path))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def archive(self, key: str, etag: str) -> str:
        return self._move(key, PROCESSED_PREFIX + key, etag)

    def quarantine(self, key: str, etag: str, report: dict) -> str:
        target = QUARANTINE_PREFIX + key
        self.client().put_object(
            Bucket=self.bucket,
            Key=target + ERROR_REPORT_SUFFIX,
            Body=json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
        return self._move(key, target, etag)

    def _move(self, key: str, target: str, etag: str) -> str:
        client = self.client()
        client.copy({"Bucket": self.bucket, "Key": key}, self.bucket, target)
        # Delete only the version we handled: new bytes uploaded meanwhile get their own run.
        current = self.head(key)
        if current is not None and current["ETag"] == etag:
            client.delete_object(Bucket=self.bucket, Key=key)
        return self.uri(target)


landing = LandingZone(s3=s3, bucket=dg.EnvVar("LANDING_BUCKET"))
