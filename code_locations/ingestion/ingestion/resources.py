import dagster as dg
from dagster_aws.s3 import S3Resource

# One S3 client configuration for the whole location, pointed at the stack's store.
s3 = S3Resource(
    endpoint_url=dg.EnvVar("S3_ENDPOINT_URL"),
    region_name=dg.EnvVar("AWS_REGION"),
)
