"""Op outputs of `storage_report_job` travel between steps through S3: run containers are thrown
away after each run. The warehouse tables are written by their assets through DuckDB, not here.
Keys look like `s3://$IO_MANAGER_BUCKET/dagster/<run id>/<op>/result`.
"""

import dagster as dg
from dagster_aws.s3 import S3PickleIOManager

from analytics.resources import s3

s3_pickle_io_manager = S3PickleIOManager(
    s3_resource=s3, s3_bucket=dg.EnvVar("IO_MANAGER_BUCKET"), s3_prefix="dagster"
)
