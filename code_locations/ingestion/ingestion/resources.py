"""Resources: the stack's S3 store, the landing zone users drop files into, and the table store."""

import json
import shutil
from pathlib import Path

import dagster as dg
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from stack_contract import ERROR_REPORT_SUFFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX, orders_table_key

from stack_s3 import S3, derived_key, is_missing, iter_objects

# The longest ETag kept in a name: an MD5 (32 hex digits), or a multipart upload's "<md5>-<parts>".
ETAG_ROOM = 40
PRECONDITION_FAILED = ("412", "PreconditionFailed")
COPY_CHUNK_BYTES = 1 << 20


def archived_folder(key: str) -> str:
    """Where every handled version of a key is kept: `processed/<key>/` (shortened if too long,
    with room left for the version's ETag)."""
    room = "0" * ETAG_ROOM
    return derived_key(PROCESSED_PREFIX, key, "/" + room).removesuffix(room)


def archived_key(key: str, etag: str) -> str:
    """One handled version's original: `processed/<key>/<etag>`. A re-drop of the key is kept
    beside the earlier ones, never over them."""
    return archived_folder(key) + etag.strip('"')


def quarantine_keys(key: str) -> tuple[str, str]:
    """Where an invalid file's original and its report go: `quarantine/<key>` and
    `quarantine/<key>.error.json`, both shortened alike if the report's name would be too long."""
    report = derived_key(QUARANTINE_PREFIX, key, ERROR_REPORT_SUFFIX)
    return report.removesuffix(ERROR_REPORT_SUFFIX), report


UPLOAD_IN_BOUNDED_MEMORY = TransferConfig(max_concurrency=2, multipart_chunksize=8 << 20)


class VersionGone(Exception):
    """The object version asked for is no longer in landing: handled already, or replaced by newer
    bytes (which have a run of their own)."""


s3 = S3(endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"), region_name=dg.EnvVar("AWS_REGION"))


class LandingZone(dg.ConfigurableResource):
    """The bucket users drop files into, and where their originals go once handled.

    Originals are copied to `processed/<key>/<etag>` or `quarantine/<key>` (with
    `quarantine/<key>.error.json` saying why) before the landing copy is deleted, so nothing a
    user dropped is ever lost.
    """

    s3: S3
    bucket: str

    def client(self):
        return self.s3.get_client()

    def head(self, key: str) -> dict | None:
        try:
            return self.client().head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise

    def download(self, key: str, path: Path, etag: str) -> None:
        """Streams the version with this ETag to `path`; raises VersionGone if landing no longer holds it."""
        try:
            # If-Match: the bytes the sensor listed or none, without asking for the ETag again first.
            body = self.client().get_object(Bucket=self.bucket, Key=key, IfMatch=etag)["Body"]
        except ClientError as error:
            if is_missing(error) or _precondition_failed(error):
                raise VersionGone(f"version {etag} is no longer there") from None
            raise
        # Streamed to disk in chunks: memory stays small, whatever the file's size.
        with body, path.open("wb") as local:
            shutil.copyfileobj(body, local, COPY_CHUNK_BYTES)

    def newest_archived(self, key: str) -> str | None:
        """The key of the latest handled version of `key` under processed/, if any is kept."""
        versions = list(iter_objects(self.client(), self.bucket, archived_folder(key)))
        return max(versions, key=lambda entry: entry["LastModified"])["Key"] if versions else None

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def archive(self, key: str, etag: str) -> str:
        return self._move(key, archived_key(key, etag), etag)

    def quarantine(self, key: str, etag: str, report: dict) -> str:
        target, report_key = quarantine_keys(key)
        self.client().put_object(
            Bucket=self.bucket,
            Key=report_key,
            Body=json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
        return self._move(key, target, etag)

    def _move(self, key: str, target: str, etag: str) -> str:
        """Moves the version `etag` of `key`, and only it: both the copy and the delete are
        conditional on the ETag, so bytes uploaded under the key meanwhile are neither archived
        in its name nor deleted unseen; they stay in landing and get their own run."""
        client = self.client()
        try:
            client.copy(
                {"Bucket": self.bucket, "Key": key}, self.bucket, target, ExtraArgs={"CopySourceIfMatch": etag}
            )
            client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        except ClientError as error:
            if not _precondition_failed(error):
                raise
        return self.uri(target)


def _precondition_failed(error: ClientError) -> bool:
    # A plain copy or delete says "PreconditionFailed"; the managed (multipart) copy only "412".
    return error.response.get("Error", {}).get("Code") in PRECONDITION_FAILED


class TableStore(dg.ConfigurableResource):
    """Where each dropped file's orders table is kept as Parquet (the contract in stack_contract)."""

    s3: S3
    bucket: str

    def put_orders(self, partition_key: str, path: Path) -> str:
        key = orders_table_key(partition_key)
        # upload_file streams large files up in multipart chunks; two 8 MiB parts in flight at a
        # time (its default, ten, held 80 MiB of a run worker's memory for a large file).
        self.s3.get_client().upload_file(str(path), self.bucket, key, Config=UPLOAD_IN_BOUNDED_MEMORY)
        return f"s3://{self.bucket}/{key}"


landing = LandingZone(s3=s3, bucket=dg.EnvVar("LANDING_BUCKET"))
tables = TableStore(s3=s3, bucket=dg.EnvVar("IO_MANAGER_BUCKET"))
