# One partition per dropped file (stack_contract.dropped_files): a partition key is the file's key,
# so re-materializing one from the UI re-reads that file.
from stack_contract import dropped_files

__all__ = ["INVALID_KEY_PARTS", "dropped_files", "usable_as_partition"]

# Dagster refuses these in a partition key; a file whose key holds one is quarantined, with a
# report saying so, instead of ingested.
INVALID_KEY_PARTS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def usable_as_partition(key: str) -> bool:
    return not any(part in key for part in INVALID_KEY_PARTS)
