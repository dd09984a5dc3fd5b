import dagster as dg
from dagster_aws.s3 import S3Resource


@dg.asset(kinds={"s3"}, description="How many objects wait in the landing bucket.")
def landing_inventory(s3: S3Resource) -> dg.MaterializeResult:
    bucket = dg.EnvVar("LANDING_BUCKET").get_value()
    pages = s3.get_client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    count = sum(page.get("KeyCount", 0) for page in pages)
    return dg.MaterializeResult(metadata={"bucket": bucket, "objects": count})
