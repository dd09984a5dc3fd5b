"""Compute logs (a step's stdout/stderr) kept in the stack's S3 store.

Named in dagster.yaml for the webserver, the daemon and every run worker. It does what
dagster-aws's S3ComputeLogManager does for us, with the same object layout
(`<prefix>/storage/<log key...>.<out|err>`), but imports only boto3: run workers start faster.
"""

import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

from botocore.exceptions import ClientError
from dagster import Field, StringSource
from dagster._core.storage.cloud_storage_compute_log_manager import (
    PollingComputeLogSubscriptionManager,
    TruncatingCloudStorageComputeLogManager,
)
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from stack_s3.client import is_missing, shared_client
from stack_s3.listing import iter_objects


class S3ComputeLogManager(TruncatingCloudStorageComputeLogManager, ConfigurableClass):
    def __init__(
        self,
        bucket: str,
        local_dir: str,
        prefix: str = "compute-logs",
        endpoint_url: str | None = None,
        region: str | None = None,
        upload_interval: int | None = None,
        inst_data: ConfigurableClassData | None = None,
    ):
        self._bucket = bucket
        self._prefix = "/".join(part for part in prefix.split("/") if part)
        self._endpoint_url, self._region = endpoint_url, region
        self._local = LocalComputeLogManager(local_dir)
        self._subscriptions = PollingComputeLogSubscriptionManager(self)
        self._upload_interval = upload_interval or None
        self._inst_data = inst_data
        super().__init__()

    @property
    def inst_data(self):
        return self._inst_data

    @classmethod
    def config_type(cls):
        return {
            "bucket": StringSource,
            "local_dir": StringSource,
            "prefix": Field(StringSource, is_required=False, default_value="compute-logs"),
            "endpoint_url": Field(StringSource, is_required=False),
            "region": Field(StringSource, is_required=False),
            "upload_interval": Field(int, is_required=False),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    @property
    def _s3(self):
        return shared_client(self._endpoint_url, self._region)

    @property
    def local_manager(self) -> LocalComputeLogManager:
        return self._local

    @property
    def upload_interval(self) -> int | None:
        return self._upload_interval

    def _key(self, log_key: Sequence[str], io_type: ComputeIOType, partial: bool = False) -> str:
        name = f"{log_key[-1]}.{IO_TYPE_EXTENSION[io_type]}" + (".partial" if partial else "")
        return "/".join([self._prefix, "storage", *log_key[:-1], name])

    def delete_logs(self, log_key: Sequence[str] | None = None, prefix: Sequence[str] | None = None) -> None:
        self._local.delete_logs(log_key=log_key, prefix=prefix)
        if log_key:
            keys = [self._key(log_key, io, partial) for io in ComputeIOType for partial in (False, True)]
        elif prefix:
            # The trailing "" keeps ["a"] from matching ["apple"].
            folder = "/".join([self._prefix, "storage", *prefix, ""])
            keys = [entry["Key"] for entry in iter_objects(self._s3, self._bucket, folder)]
        else:
            raise ValueError("delete_logs needs a log_key or a prefix")
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": key} for key in keys[start : start + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": chunk, "Quiet": True})

    def download_url_for_type(self, log_key: Sequence[str], io_type: ComputeIOType) -> str | None:
        if not self.is_capture_complete(log_key):
            return None
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": self._key(log_key, io_type)}
        )

    def display_path_for_type(self, log_key: Sequence[str], io_type: ComputeIOType) -> str | None:
        if not self.is_capture_complete(log_key):
            return None
        return f"s3://{self._bucket}/{self._key(log_key, io_type)}"

    def cloud_storage_has_logs(self, log_key: Sequence[str], io_type: ComputeIOType, partial: bool = False) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self._key(log_key, io_type, partial))
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        return True

    def _upload_file_obj(self, data: IO[bytes], log_key: Sequence[str], io_type: ComputeIOType, partial=False):
        local = self._local.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type])
        if partial and os.stat(local).st_size == 0:
            return
        self._s3.upload_fileobj(
            data, self._bucket, self._key(log_key, io_type, partial), ExtraArgs={"ContentType": "text/plain"}
        )

    def download_from_cloud_storage(self, log_key: Sequence[str], io_type: ComputeIOType, partial=False):
        local = self._local.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type], partial=partial)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "wb") as target:
            self._s3.download_fileobj(self._bucket, self._key(log_key, io_type, partial), target)

    def get_log_keys_for_log_key_prefix(
        self, log_key_prefix: Sequence[str], io_type: ComputeIOType
    ) -> Sequence[list[str]]:
        folder = "/".join([self._prefix, "storage", *log_key_prefix])
        extension = "." + IO_TYPE_EXTENSION[io_type]
        return [
            [*log_key_prefix, entry["Key"].rsplit("/", 1)[-1].removesuffix(extension)]
            for entry in iter_objects(self._s3, self._bucket, folder)
            if entry["Key"].endswith(extension)
        ]

    def on_subscribe(self, subscription):
        self._subscriptions.add_subscription(subscription)

    def on_unsubscribe(self, subscription):
        self._subscriptions.remove_subscription(subscription)

    def dispose(self):
        self._subscriptions.dispose()
        self._local.dispose()
