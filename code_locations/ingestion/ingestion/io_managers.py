"""Tables in MinIO as Parquet: s3://<bucket>/<asset key path>/<partition key>.parquet."""

import tempfile
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from dagster_aws.s3 import S3Resource

from ingestion.types import StagedParquet


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores pyarrow Tables, or Parquet files an asset staged on local disk, in S3.

    Run containers are thrown away, so nothing is kept locally. Accepting a staged file lets an
    asset write a large table batch by batch and still leave storage to the IO manager;
    `upload_file` then streams it up in multipart chunks. Loading returns a `ParquetFile` over a
    temporary local copy so readers pick the columns and row groups they need instead of
    materializing the whole table in memory.
    """

    s3: S3Resource
    bucket: str
    prefix: str = ""

    def object_key(self, context: dg.InputContext | dg.OutputContext) -> str:
        path = "/".join(context.asset_key.path)
        if context.has_asset_partitions:
            path = f"{path}/{context.asset_partition_key}"
        return f"{self.prefix.strip('/')}/{path}.parquet".lstrip("/")

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | StagedParquet | None) -> None:
        if obj is None:
            return
        key = self.object_key(context)
        with tempfile.TemporaryDirectory() as scratch:
            if isinstance(obj, pa.Table):
                path = Path(scratch) / "table.parquet"
                pq.write_table(obj, path, compression="zstd")
                rows = obj.num_rows
            else:
                path, rows = Path(obj.path), obj.num_rows
            self.s3.get_client().upload_file(str(path), self.bucket, key)
            size = path.stat().st_size
            if isinstance(obj, StagedParquet):
                path.unlink()  # the staged file was handed over to us
        context.add_output_metadata(
            {"uri": dg.MetadataValue.path(f"s3://{self.bucket}/{key}"), "parquet_bytes": size, "parquet_rows": rows}
        )

    def load_input(self, context: dg.InputContext) -> pq.ParquetFile:
        key = self.object_key(context)
        # The temporary file is deleted once the ParquetFile holding it is garbage-collected.
        local = tempfile.NamedTemporaryFile(suffix=".parquet")
        self.s3.get_client().download_fileobj(self.bucket, key, local)
        local.flush()
        local.seek(0)
        return pq.ParquetFile(local)
