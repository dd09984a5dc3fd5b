"""Op outputs of `storage_report_job` travel between steps through S3: run containers are thrown
away after each run. The warehouse tables are written by their assets through DuckDB, not here.
Keys look like `s3://$IO_MANAGER_BUCKET/dagster/<run id>/<step>/<output>.json`.
"""

import json

import dagster as dg

from analytics.resources import s3
from stack_s3 import S3


class S3JsonIOManager(dg.ConfigurableIOManager):
    """Small values (lists, dicts, strings, numbers) as JSON in the stack's IO-manager bucket.

    Never pickle: every service can write this bucket, and unpickling what another wrote would run
    its code in this run, with this run's secrets. JSON is data and nothing else.
    """

    s3: S3
    bucket: str
    prefix: str = "dagster"

    def _key(self, context: dg.OutputContext) -> str:
        return "/".join([self.prefix, context.run_id, context.step_key, context.name]) + ".json"

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.s3.get_client().put_object(Bucket=self.bucket, Key=self._key(context), Body=body, ContentType="application/json")

    def load_input(self, context: dg.InputContext) -> object:
        body = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._key(context.upstream_output))["Body"]
        return json.loads(body.read())


s3_json_io_manager = S3JsonIOManager(s3=s3, bucket=dg.EnvVar("IO_MANAGER_BUCKET"))
