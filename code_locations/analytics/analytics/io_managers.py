"""Op outputs of `storage_report_job` travel between steps through S3: run containers are thrown
away after each run. The warehouse tables are written by their assets through DuckDB, not here.
Keys look like `s3://$IO_MANAGER_BUCKET/dagster/<run id>/<step>/<output>.pickle`.
"""

import pickle

import dagster as dg

from analytics.resources import s3
from stack_s3 import S3


class S3PickleIOManager(dg.ConfigurableIOManager):
    """Small Python values, pickled into the stack's IO-manager bucket (only our own ops' outputs
    are ever unpickled: nothing a user drops is read here)."""

    s3: S3
    bucket: str
    prefix: str = "dagster"

    def _key(self, context: dg.OutputContext) -> str:
        return "/".join([self.prefix, context.run_id, context.step_key, context.name]) + ".pickle"

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        self.s3.get_client().put_object(Bucket=self.bucket, Key=self._key(context), Body=pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> object:
        body = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._key(context.upstream_output))["Body"]
        return pickle.loads(body.read())


s3_pickle_io_manager = S3PickleIOManager(s3=s3, bucket=dg.EnvVar("IO_MANAGER_BUCKET"))
