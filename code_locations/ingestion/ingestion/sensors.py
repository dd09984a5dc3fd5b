"""The landing sensor: one ingestion run per new object version dropped into the landing bucket."""

import os

import dagster as dg
from botocore.exceptions import ConnectionError as S3ConnectionError
from botocore.exceptions import HTTPClientError

from ingestion.jobs import INGESTION_TAGS, ingest_orders_job
from ingestion.listing import Cursor, list_landed, select_new
from ingestion.partitions import dropped_files
from ingestion.resources import LandingZone

# Read at import because Dagster needs the interval when it loads the sensor; it is the only
# setting read that way. Everything else is resolved from resources at tick time.
# The daemon looks at sensors every 5 s; an interval of 5 would often just miss a look and wait
# 10 s, so the default 3 means "at every look".
INTERVAL_SECONDS = int(os.environ.get("LANDING_SENSOR_INTERVAL_SECONDS", "3"))
# Objects this many seconds older than the newest one handled are still compared with the cursor.
# S3 stamps a multipart upload with its start time, so this must outlast the slowest upload.
LOOKBACK_SECONDS = 600.0
MAX_RUNS_PER_TICK = 100
# Dagster rejects these in partition keys; such files are left in place with a warning.
_INVALID_KEY_PARTS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


class LandingUnreachable(Exception):
    """The S3 store did not answer. The tick fails with this message and the next one tries again."""


def usable_as_partition(key: str) -> bool:
    return not any(part in key for part in _INVALID_KEY_PARTS)


@dg.sensor(
    job=ingest_orders_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the landing bucket (skipping processed/ and quarantine/) and starts one ingestion "
        "run per new object version; run_key = key@ETag."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    cursor = Cursor.from_json(context.cursor)
    try:
        selection = select_new(list_landed(landing.client(), landing.bucket), cursor, LOOKBACK_SECONDS, MAX_RUNS_PER_TICK)
    except (S3ConnectionError, HTTPClientError) as error:
        raise LandingUnreachable(
            f"Cannot list {landing.uri('')}: the S3 store at {landing.s3.endpoint_url} does not answer ({error}). "
            "Nothing is lost: files dropped meanwhile are picked up at the first tick after it is back."
        ) from None
    requests = []
    for item in selection.new:
        if not usable_as_partition(item.key):
            context.log.warning(
                f"Left {landing.uri(item.key)} in place: its name contains '...' or a control "
                "character, which Dagster does not allow in a partition key. Rename it to ingest it."
            )
            continue
        requests.append(
            dg.RunRequest(
                run_key=item.run_key,
                partition_key=item.key,
                tags={**INGESTION_TAGS, "stack/source-etag": item.etag},
            )
        )
    if not requests:
        reason = (
            f"No new objects in s3://{landing.bucket}: {selection.waiting} waiting, all already requested."
            if not selection.new
            else f"{len(selection.new)} new object(s) in s3://{landing.bucket}, none with a usable name (see logs)."
        )
        return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=selection.cursor.to_json())
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[dropped_files.build_add_request([r.partition_key for r in requests])],
        cursor=selection.cursor.to_json(),
    )
