import dagster as dg

# One partition per dropped file, named by its object key in the landing bucket. The sensor adds
# them; a partition key is the file's key, so re-materializing one from the UI re-reads that file.
dropped_files = dg.DynamicPartitionsDefinition(name="dropped_files")
