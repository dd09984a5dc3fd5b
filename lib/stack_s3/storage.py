"""Keys made from a user's key that stay inside the store's limits whatever key the user chose."""

import hashlib

# Where the landing bucket keeps the files the stack has handled: the stack's alone. Uploaders may
# not write there (deploy/s3/identity.sh); deploy/s3/drop.py says so before trying. Here, not in
# stack_contract, because drop.py runs where importing dagster would cost a second per drop.
PROCESSED_PREFIX = "processed/"
QUARANTINE_PREFIX = "quarantine/"
LANDING_RESERVED_PREFIXES = (PROCESSED_PREFIX, QUARANTINE_PREFIX)
# S3 allows keys of up to 1024 bytes; MinIO, a file system underneath, also caps each
# "/"-separated segment at 255 bytes. A user's key may sit right at either limit.
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
LONG_KEYS_FOLDER = "long-keys/"
# How much of a long key's file name a shortened key keeps (its end: the extension is there).
KEPT_NAME_BYTES = 100


def fits_the_store(key: str) -> bool:
    return len(key.encode()) <= MAX_KEY_BYTES and all(
        len(segment.encode()) <= MAX_SEGMENT_BYTES for segment in key.split("/")
    )


def derived_key(prefix: str, key: str, suffix: str = "") -> str:
    """`prefix + key + suffix`, or, when that would break a store limit, `prefix` + `long-keys/` +
    the key's hash and the end of its file name + `suffix`. The same key always gives the same
    name, and different keys different ones; whoever needs the original key keeps it elsewhere
    (a report, a materialization's metadata)."""
    plain = prefix + key + suffix
    if fits_the_store(plain):
        return plain
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    name_end = key.rsplit("/", 1)[-1].encode()[-KEPT_NAME_BYTES:].decode("utf-8", "ignore")
    return f"{prefix}{LONG_KEYS_FOLDER}{digest}-{name_end}{suffix}"

