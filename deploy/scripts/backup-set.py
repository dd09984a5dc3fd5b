#!/usr/bin/env python3
"""Usage: backup-set.py write DIR ABOUT_JSON | check DIR | restore DIR

The object half of `make backup` and `make restore` (deploy/scripts/backup.sh, restore.sh) and the
manifest that binds a backup together. `write` and `restore` run in a one-off container of the
stack's Dagster image on the stack's network (boto3, the services' S3 key from that container's
environment, the bucket names from its LANDING_BUCKET, ...), with the backup mounted at DIR;
`check` needs only the standard library and runs on the host.

A backup directory holds postgres/*.dump, objects/<sha256> (one file per distinct content: a key
never becomes a path, whatever it holds) and manifest.json, which lists each dump's size and
SHA-256 and each bucket's objects (key, size, ETag, SHA-256, content type, user metadata).

  write    copies every object of the stack's buckets into DIR/objects/, streaming (memory stays
           bounded whatever an object's size), checks each against its ETag where that is an MD5,
           then writes DIR/manifest.json with the ABOUT fields (dagster version, images, time).
  check    the manifest is whole and every file it names has its size and SHA-256; else exit 2.
  restore  makes each bucket hold exactly the manifest's objects: copies in what is missing or
           different, then deletes what the backup does not hold.
"""

import hashlib
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FORMAT = "dagster-stack-backup/1"
# The stack's buckets, by the setting that names each (docker-compose.yml, x-s3-buckets): a backup
# restores into a stack whose buckets are named otherwise.
BUCKET_SETTINGS = ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")
DATABASES = ("dagster", "warehouse")
CHUNK_BYTES = 1 << 20
# Objects copied at once: each holds one chunk in memory.
WORKERS = 4
PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
MULTIPART = re.compile(r"^[0-9a-f]{32}-(\d+)$")


class BackupError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(directory: Path, relative: str) -> dict:
    path = directory / relative
    return {"file": relative, "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def s3_client():
    import boto3  # in the container only: `check` runs on a host without it

    return boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])


def listing(s3, bucket: str) -> dict[str, dict]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"]: item for page in pages for item in page.get("Contents", [])}


class MultipartEtag:
    """The ETag S3 gives a multipart upload cut into parts of `part_size`: the MD5 of the parts'
    MD5s, then "-<parts>". Fed the bytes in order, in chunks of any size."""

    def __init__(self, part_size: int):
        self.part_size, self.part, self.filled, self.digests = part_size, hashlib.md5(), 0, []

    def update(self, chunk: bytes) -> None:
        while chunk:
            taken = chunk[: self.part_size - self.filled]
            self.part.update(taken)
            self.filled += len(taken)
            chunk = chunk[len(taken):]
            if self.filled == self.part_size:
                self.digests.append(self.part.digest())
                self.part, self.filled = hashlib.md5(), 0

    def hexdigest(self) -> str:
        digests = self.digests + ([self.part.digest()] if self.filled else [])
        return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


# Part sizes uploaders commonly use (boto3 and the AWS CLI 8 MiB, others 5 to 512 MiB), in MiB.
COMMON_PART_MIB = (5, 6, 8, 10, 15, 16, 20, 25, 32, 50, 64, 100, 128, 256, 512)


def part_size_candidates(s3, bucket: str, key: str, size: int, parts: int) -> list[int]:
    """Part sizes that cut `size` bytes into `parts` parts: what the store says of the first part
    (not every store does), then the common ones."""
    from botocore.exceptions import ClientError

    candidates = [mib << 20 for mib in COMMON_PART_MIB]
    try:
        candidates.insert(0, s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["ContentLength"])
    except ClientError:
        pass
    return list(dict.fromkeys(c for c in candidates if c > 0 and -(-size // c) == parts))


def copy_out(s3, bucket: str, key: str, objects: Path) -> dict | None:
    """Streams one object into objects/<sha256>, checking its bytes against its ETag (for a
    multipart upload, finding the part size that gives it, so a restore can cut the same parts and
    the object keeps its ETag, by which the sensors know a file). Its entry, or None if it went
    since the listing."""
    from botocore.exceptions import ClientError

    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None  # moved or deleted meanwhile (a file the stack just handled)
        raise
    etag, size = response["ETag"].strip('"'), response["ContentLength"]
    multipart = MULTIPART.match(etag)
    checks = ([MultipartEtag(c) for c in part_size_candidates(s3, bucket, key, size, int(multipart[1]))]
              if multipart else [hashlib.md5()])
    sha256, copied = hashlib.sha256(), 0
    partial = objects / f".partial-{os.getpid()}-{id(response)}"
    with open(partial, "wb") as out:
        for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
            for digest in (sha256, *checks):
                digest.update(chunk)
            copied += len(chunk)
            out.write(chunk)
    matching = [c for c in checks if c.hexdigest() == etag]
    if copied != size or (PLAIN_MD5.match(etag) and not matching):
        partial.unlink()
        raise BackupError(f"s3://{bucket}/{key}: the bytes read do not match the store's size or ETag")
    # Same content, same file: dropped originals and their processed/ copies are stored once.
    partial.replace(objects / sha256.hexdigest())
    entry = {"key": key, "size": size, "etag": etag, "sha256": sha256.hexdigest(),
             "content_type": response.get("ContentType"), "metadata": response.get("Metadata") or {}}
    if multipart:
        # None: no common part size gives this ETag; the restored object gets a new one.
        entry["part_size"] = matching[0].part_size if matching else None
    return entry


def write(directory: Path, about: dict) -> None:
    s3, objects = s3_client(), directory / "objects"
    objects.mkdir(exist_ok=True)
    buckets = {}
    for setting in BUCKET_SETTINGS:
        bucket = os.environ[setting]
        keys = sorted(listing(s3, bucket))
        with ThreadPoolExecutor(WORKERS) as pool:
            entries = [e for e in pool.map(lambda key, b=bucket: copy_out(s3, b, key, objects), keys) if e]
        buckets[setting] = {"name": bucket, "objects": len(entries), "bytes": sum(e["size"] for e in entries),
                            "contents": entries}
        print(f"bucket {bucket}: {len(entries)} objects, {buckets[setting]['bytes']} bytes", flush=True)
    manifest = {
        "format": FORMAT,
        **about,
        "dagster_version": installed_dagster_version(),
        "databases": {name: describe_file(directory, f"postgres/{name}.dump") for name in DATABASES},
        "buckets": buckets,
    }
    partial = directory / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    partial.replace(directory / "manifest.json")


def installed_dagster_version() -> str:
    from importlib.metadata import version

    return version("dagster")


def read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    if not path.is_file():
        raise BackupError(f"{path} is missing: not a complete backup (make backup writes it last)")
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{path}: format {manifest.get('format')!r}, not {FORMAT!r}")
        well_formed = isinstance(manifest["dagster_version"], str) and all(
            isinstance(entry["file"], str) and isinstance(entry["bytes"], int) and isinstance(entry["sha256"], str)
            for entry in (manifest["databases"][name] for name in DATABASES)
        ) and all(
            isinstance(entry["key"], str) and isinstance(entry["size"], int) and isinstance(entry["etag"], str)
            and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
            for setting in BUCKET_SETTINGS for entry in manifest["buckets"][setting]["contents"]
        )
        if not well_formed:
            raise ValueError("a field of the wrong type")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BackupError(f"{path} is damaged: {type(error).__name__} {error}") from None
    return manifest


def check(directory: Path) -> dict:
    """The manifest, once every file it names is there with its size and SHA-256."""
    manifest = read_manifest(directory)
    wanted = {(entry["file"], entry["bytes"], entry["sha256"]) for entry in manifest["databases"].values()}
    for bucket in manifest["buckets"].values():
        wanted |= {(f"objects/{e['sha256']}", e["size"], e["sha256"]) for e in bucket["contents"]}
    for relative, size, sha256 in sorted(wanted):
        path = (directory / relative).resolve()
        if directory.resolve() not in path.parents:
            raise BackupError(f"manifest.json names {relative!r}, outside the backup")
        if not path.is_file():
            raise BackupError(f"{relative} is missing from the backup")
        if path.stat().st_size != size or sha256_of(path) != sha256:
            raise BackupError(f"{relative} does not match its checksum in manifest.json: the backup is damaged")
    objects = sum(bucket["objects"] for bucket in manifest["buckets"].values())
    print(f"backup checked: 2 database dumps and {objects} objects match manifest.json "
          f"(dagster {manifest['dagster_version']}, taken {manifest.get('created', '?')})")
    return manifest


def copy_in(s3, bucket: str, entry: dict, objects: Path) -> str | None:
    """Puts one object back; returns a note when its ETag could not be kept."""
    from boto3.s3.transfer import TransferConfig

    path = objects / entry["sha256"]
    extra = {"Metadata": entry.get("metadata") or {}}
    if entry.get("content_type"):
        extra["ContentType"] = entry["content_type"]
    if MULTIPART.match(entry["etag"]):
        # The same part size gives the same parts, so the same ETag.
        chunk = entry.get("part_size") or 8 << 20
        config = TransferConfig(multipart_threshold=1, multipart_chunksize=chunk, max_concurrency=2)
        s3.upload_file(str(path), bucket, entry["key"], ExtraArgs=extra, Config=config)
        etag = s3.head_object(Bucket=bucket, Key=entry["key"])["ETag"].strip('"')
    else:
        with open(path, "rb") as body:
            etag = s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, **extra)["ETag"].strip('"')
    if etag == entry["etag"]:
        return None
    if PLAIN_MD5.match(entry["etag"]):
        raise BackupError(f"s3://{bucket}/{entry['key']}: the store stored other bytes than the backup's")
    return f"s3://{bucket}/{entry['key']}: same bytes, new ETag {etag} (was {entry['etag']})"


def restore(directory: Path) -> None:
    # Checked again here, though restore.sh checked before asking: nothing is touched unless whole.
    manifest, s3, objects = check(directory), s3_client(), directory / "objects"
    for setting in BUCKET_SETTINGS:
        bucket, wanted = os.environ[setting], manifest["buckets"][setting]["contents"]
        present = listing(s3, bucket)
        missing = [e for e in wanted
                   if (present.get(e["key"], {}).get("ETag", "").strip('"'), present.get(e["key"], {}).get("Size"))
                   != (e["etag"], e["size"])]
        with ThreadPoolExecutor(WORKERS) as pool:
            notes = [note for note in pool.map(lambda e, b=bucket: copy_in(s3, b, e, objects), missing) if note]
        extra = sorted(set(present) - {e["key"] for e in wanted})
        for start in range(0, len(extra), 1000):
            batch = [{"Key": key} for key in extra[start:start + 1000]]
            errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors")
            if errors:
                raise BackupError(f"bucket {bucket}: could not delete {errors[0]['Key']}: {errors[0].get('Message')}")
        print(f"bucket {bucket}: {len(wanted)} objects ({len(missing)} copied in, {len(extra)} not in the backup deleted)")
        for note in notes:
            print(f"  {note}")


def main() -> None:
    os.umask(0o077)  # what is written here is readable by its owner alone
    command, directory = (sys.argv[1], Path(sys.argv[2])) if len(sys.argv) >= 3 else (None, None)
    try:
        if command == "write" and len(sys.argv) == 4:
            write(directory, json.loads(sys.argv[3]))
        elif command == "check" and len(sys.argv) == 3:
            check(directory)
        elif command == "restore" and len(sys.argv) == 3:
            restore(directory)
        else:
            sys.exit(__doc__.splitlines()[0])
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
