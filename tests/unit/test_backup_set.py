"""deploy/scripts/backup-set.py against a real S3 server (SeaweedFS): every bucket's objects go into a
backup and come back with their keys, bytes and ETags, whatever the keys hold; a damaged or
incomplete backup is refused before anything is touched. (The live round trip through `make backup`
and `make restore`: tests/integration/test_stack_state.py.)"""

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from tests.harness.repo import REPO
from tests.harness.s3_fixtures import ACCESS_KEY, SECRET_KEY

SCRIPT = REPO / "deploy" / "scripts" / "backup-set.py"
SETTINGS = ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")
# Keys a copier that made paths of them would trip on: a file and a folder of one name, a folder
# marker (empty, as S3 consoles make them), characters a shell or URL treats specially. (SeaweedFS
# refuses keys with "." or ".." segments, so they never reach a backup.)
AWKWARD_KEYS = ["a", "a/b", "dir/", "commandes été 2024.csv", "sp ace/x?y=1&z#$(id)", "..x../y.."]
PART = 5 << 20


def s3_of(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def fresh_buckets(s3) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    buckets = {setting: f"{setting.split('_')[0].lower()}-{suffix}" for setting in SETTINGS}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    return buckets


def run(endpoint: str, buckets: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {"S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin", **buckets}
    result = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def contents(s3, bucket: str) -> dict[str, tuple[str, int, bytes]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {
        item["Key"]: (item["ETag"], item["Size"], s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for page in pages for item in page.get("Contents", [])
    }


@pytest.fixture
def backup(s3_endpoint, tmp_path) -> tuple[Path, dict[str, str]]:
    """A backup (fake dumps beside real objects) of four filled buckets; returns it and the buckets."""
    s3 = s3_of(s3_endpoint)
    buckets = fresh_buckets(s3)
    for n, key in enumerate(AWKWARD_KEYS):
        s3.put_object(Bucket=buckets["LANDING_BUCKET"], Key=key, Body=b"" if key.endswith("/") else f"body {n}\n".encode(),
                      ContentType="text/csv", Metadata={"origin": f"test-{n}"})
    # The same bytes under two keys (a drop and its processed/ copy) are stored once.
    s3.put_object(Bucket=buckets["LANDING_BUCKET"], Key="processed/a/copy", Body=b"body 0\n")
    # A multipart upload (a large drop): its ETag names its parts, and comes back the same.
    big = bytes(range(256)) * (12 * 4096)
    s3.upload_fileobj(io.BytesIO(big), buckets["WAREHOUSE_BUCKET"], "lake/big.parquet",
                      Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART))
    s3.put_object(Bucket=buckets["IO_MANAGER_BUCKET"], Key="empty", Body=b"")
    directory = tmp_path / "backup"
    (directory / "postgres").mkdir(parents=True)
    for name in ("dagster", "warehouse"):
        (directory / "postgres" / f"{name}.dump").write_bytes(f"{name} dump".encode())
    run(s3_endpoint, buckets, "write", str(directory), json.dumps({"created": "now"}))
    return directory, buckets


def test_every_object_comes_back_with_its_key_bytes_and_etag(s3_endpoint, backup):
    directory, source = backup
    s3 = s3_of(s3_endpoint)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == "dagster-stack-backup/1" and manifest["dagster_version"]
    assert manifest["buckets"]["LANDING_BUCKET"]["objects"] == len(AWKWARD_KEYS) + 1
    assert sorted(p.name for p in (directory / "objects").iterdir()) == sorted(
        {e["sha256"] for b in manifest["buckets"].values() for e in b["contents"]})
    assert (directory / "manifest.json").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in (directory / "objects").iterdir())

    target = fresh_buckets(s3)
    s3.put_object(Bucket=target["LANDING_BUCKET"], Key="not-in-the-backup.csv", Body=b"x")
    s3.put_object(Bucket=target["LANDING_BUCKET"], Key="a", Body=b"other bytes under a key the backup holds")
    run(s3_endpoint, target, "restore", str(directory))

    for setting in SETTINGS:
        assert contents(s3, target[setting]) == contents(s3, source[setting]), setting
    assert contents(s3, target["WAREHOUSE_BUCKET"])["lake/big.parquet"][0].endswith('-3"')
    head = s3.head_object(Bucket=target["LANDING_BUCKET"], Key="a")
    assert head["ContentType"] == "text/csv" and head["Metadata"] == {"origin": "test-0"}


def test_a_whole_backup_passes_its_check(s3_endpoint, backup):
    directory, buckets = backup
    assert "match manifest.json" in run(s3_endpoint, buckets, "check", str(directory)).stdout


def damage_an_object(directory: Path) -> None:
    victim = next((directory / "objects").iterdir())
    victim.write_bytes(victim.read_bytes() + b"!")


def remove_the_manifest(directory: Path) -> None:
    (directory / "manifest.json").unlink()


def truncate_the_manifest(directory: Path) -> None:
    manifest = directory / "manifest.json"
    manifest.write_text(manifest.read_text()[:200])


def point_outside(directory: Path) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["databases"]["dagster"]["file"] = "../../outside.dump"
    (directory / "manifest.json").write_text(json.dumps(manifest))


def damage_a_dump(directory: Path) -> None:
    (directory / "postgres" / "warehouse.dump").write_bytes(b"warehouse dumq")


@pytest.mark.parametrize(("damage", "message"), [
    (damage_an_object, "does not match its checksum"),
    (damage_a_dump, "postgres/warehouse.dump does not match its checksum"),
    (remove_the_manifest, "manifest.json is missing"),
    (truncate_the_manifest, "manifest.json is damaged"),
    (point_outside, "outside the backup"),
])
def test_a_damaged_backup_is_refused_and_nothing_is_touched(s3_endpoint, backup, damage, message):
    directory, _ = backup
    s3 = s3_of(s3_endpoint)
    target = fresh_buckets(s3)
    s3.put_object(Bucket=target["LANDING_BUCKET"], Key="kept.csv", Body=b"kept")
    damage(directory)

    for command in ("check", "restore"):
        result = run(s3_endpoint, target, command, str(directory), check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert list(contents(s3, target["LANDING_BUCKET"])) == ["kept.csv"]
