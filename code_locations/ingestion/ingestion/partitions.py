import dagster as dg

# One partition per dropped file, named by its object key in the landing bucket. The sensor adds
# them; a partition key is the file's key, so re-materializing one from the UI re-reads that file.
dropped_files = dg.DynamicPartitionsDefinition(name="dropped_files")

# Dagster refuses these in a partition key; a file whose key holds one is quarantined, with a
# report saying so, instead of ingested.
INVALID_KEY_PARTS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def usable_as_partition(key: str) -> bool:
    return not any(part in key for part in INVALID_KEY_PARTS)
