"""A large valid file, start to finish (download, parse, checks, Parquet upload, metadata), in a
run worker's bounded memory, against the real S3 server."""

import textwrap

from tests.harness.child import run_python
from tests.harness.orders import write_orders_csv

PEAK_RSS_LIMIT_MIB = 256
FILE_MB = 500

# The whole of ingest_file in a process of its own, which prints its peak RSS (VmHWM: see
# test_hostile_files.py), the rows ingested and the duplicate check's verdict.
INGEST_IN_CHILD = textwrap.dedent(
    """
    import os, re, sys
    from pathlib import Path
    from ingestion.ingest import IngestConfig, Source, ingest_file
    from ingestion.resources import LandingZone, TableStore
    from stack_s3 import S3

    key, etag, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s3 = S3(endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    zone, store = LandingZone(s3=s3, bucket=os.environ["LANDING_BUCKET"]), TableStore(s3=s3, bucket=os.environ["IO_MANAGER_BUCKET"])
    done = ingest_file(Source(key, key, etag, size), zone, store, IngestConfig(), "large-file-test")
    unique = next(check for check in done.checks if check.name == "orders_unique_ids")
    peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
    print(peak_kib // 1024, done.metadata["dagster/row_count"], unique.passed)
    """
)



def test_a_500_mb_file_of_unique_ids_ingests_in_bounded_memory(s3_client, landing_bucket, io_bucket, tmp_path):
    source = tmp_path / "large.csv"
    rows = write_orders_csv(source, FILE_MB * 10**6)
    s3_client.upload_file(str(source), landing_bucket, "large.csv")
    source.unlink()
    head = s3_client.head_object(Bucket=landing_bucket, Key="large.csv")
    child = run_python(INGEST_IN_CHILD, "large.csv", head["ETag"], str(head["ContentLength"]), timeout=1800)
    assert child.returncode == 0, child.stderr[-3000:]
    peak_mib, ingested, unique = child.stdout.split()
    assert (int(ingested), unique) == (rows, "True")
    assert int(peak_mib) <= PEAK_RSS_LIMIT_MIB, f"peak RSS {peak_mib} MiB for a {head['ContentLength'] / 1e6:.0f} MB file"
