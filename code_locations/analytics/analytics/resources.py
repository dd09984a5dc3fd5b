"""Resources: one S3 client configuration, the IO-manager bucket, and the warehouse."""

import importlib.resources
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from stack_s3 import S3, iter_objects

T = TypeVar("T")

s3 = S3(
    endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
    region_name=dg.EnvVar("AWS_REGION"),
)

# Extension binaries come from PyPI wheels installed with the image; each wheel keeps its file at
# <package>/extensions/v<duckdb version>/<name>.duckdb_extension. Order matters: DuckLake's
# Postgres catalog needs postgres_scanner loaded first.
EXTENSIONS = (
    ("duckdb_extension_httpfs", "httpfs"),
    ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    ("duckdb_extension_ducklake", "ducklake"),
)
LAKE = "lake"


def extension_path(package: str, name: str) -> Path:
    return Path(str(importlib.resources.files(package))) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"


def quoted(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


class IOBucket(dg.ConfigurableResource):
    """The IO manager bucket, read directly where another location's tables are needed."""

    s3: S3
    bucket: str

    def list_keys(self, prefix: str, suffix: str = "") -> Iterator[str]:
        for entry in iter_objects(self.s3.get_client(), self.bucket, prefix):
            if entry["Key"].endswith(suffix):
                yield entry["Key"]

    def download(self, key: str, path: Path) -> None:
        self.s3.get_client().download_file(self.bucket, key, str(path))

    def put_text(self, key: str, text: str, content_type: str) -> str:
        self.s3.get_client().put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return f"s3://{self.bucket}/{key}"


class DuckLakeWarehouse(DuckDBResource):
    """DuckDB connections with the warehouse, a DuckLake, attached as the default catalog.

    A DuckLake keeps its catalog in a database (Postgres in the stack, a local DuckDB file in unit
    tests) and its data as Parquet files under `data_path` (the warehouse bucket). Every run is its
    own container; they all write at once through the catalog's transactions, where a single
    DuckDB file would admit one writer. `database` stays ":memory:": nothing lives in the run.
    """

    database: str = ":memory:"
    # Extensions load from the wheels only: never installed or fetched at run time.
    connection_config: dict = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    catalog: str  # DuckLake metadata: "postgres:dbname=... host=..." or a local file path
    catalog_user: str = ""
    catalog_password: str = ""
    data_path: str
    s3_endpoint_url: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"
    read_only: bool = False

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            # Run logs and `make sql` output are not terminals: no progress bar.
            con.execute("SET enable_progress_bar = false")
            for package, name in EXTENSIONS:
                con.execute(f"LOAD {quoted(str(extension_path(package, name)))}")
            self._create_secrets(con)
            options = [f"DATA_PATH {quoted(self.data_path)}"] + (["READ_ONLY"] if self.read_only else [])
            con.execute(f"ATTACH {quoted('ducklake:' + self.catalog)} AS {LAKE} ({', '.join(options)})")
            con.execute(f"USE {LAKE}")
            yield con

    def _create_secrets(self, con: duckdb.DuckDBPyConnection) -> None:
        # Temporary secrets live in this connection only; nothing is written to disk.
        if self.s3_endpoint_url:
            scheme, _, endpoint = self.s3_endpoint_url.partition("://")
            con.execute(
                "CREATE TEMPORARY SECRET (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
                "URL_STYLE 'path', USE_SSL ?)",
                [self.s3_access_key_id, self.s3_secret_access_key, self.s3_region, endpoint.rstrip("/"), scheme == "https"],
            )
        if self.catalog.startswith("postgres:"):
            con.execute(
                "CREATE TEMPORARY SECRET (TYPE postgres, USER ?, PASSWORD ?)",
                [self.catalog_user, self.catalog_password],
            )

    def transact(self, con: duckdb.DuckDBPyConnection, work: Callable[[], T], attempts: int = 12) -> tuple[T, int]:
        """Runs `work` in one transaction, retried when another writer's commit conflicts; returns
        its result and the attempts it took.

        DuckLake commits optimistically: two writers never block each other, but a delete and a
        concurrent write to the same table cannot both commit, and the later one must start over
        on the new snapshot. A jittered backoff keeps a burst of runs from colliding again.
        """
        for attempt in range(1, attempts + 1):
            con.execute("BEGIN TRANSACTION")
            try:
                result = work()
                con.execute("COMMIT")
                return result, attempt
            except duckdb.TransactionException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # a failed COMMIT has already ended the transaction
                if attempt == attempts:
                    raise
                time.sleep(random.uniform(0.05, 0.3) * attempt)
        raise AssertionError("unreachable")


io_bucket = IOBucket(s3=s3, bucket=dg.EnvVar("IO_MANAGER_BUCKET"))

warehouse = DuckLakeWarehouse(
    catalog=dg.EnvVar("WAREHOUSE_CATALOG"),
    catalog_user=dg.EnvVar("WAREHOUSE_DB_USER"),
    catalog_password=dg.EnvVar("WAREHOUSE_DB_PASSWORD"),
    data_path=dg.EnvVar("WAREHOUSE_DATA_PATH"),
    s3_endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
    s3_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
    s3_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    s3_region=dg.EnvVar("AWS_REGION"),
)
