"""Outputs of this location live in MinIO: run containers are thrown away after each run.

The daily summaries are small dictionaries, so Dagster's own S3 pickle IO manager fits; it also
carries op outputs between the steps of `storage_report_job`. Keys look like
`s3://$IO_MANAGER_BUCKET/dagster/analytics/daily_order_summary/2024-05-31`.
"""

import dagster as dg
from dagster_aws.s3 import S3PickleIOManager

from analytics.resources import s3

s3_pickle_io_manager = S3PickleIOManager(
    s3_resource=s3, s3_bucket=dg.EnvVar("IO_MANAGER_BUCKET"), s3_prefix="dagster"
)
