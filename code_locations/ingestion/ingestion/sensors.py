"""The landing sensor: every new object version dropped into the landing bucket gets ingested.

A lone file gets a run of its own at once. When many wait, they are shared out over a few runs
(as many as may run at once), each ingesting its files one after the other: a run worker costs
seconds to start, a file a fraction of one, so a burst of 300 files takes a handful of runs.
"""

import hashlib
import math
import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
from botocore.exceptions import ConnectionError as S3ConnectionError
from botocore.exceptions import HTTPClientError
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG  # run_retries' own tags

from ingestion.ingest import FileVersion, IngestFiles
from ingestion.jobs import INGESTION_TAGS, ingest_orders_job
from ingestion.listing import Cursor, LandedObject, list_landed, select_new
from ingestion.partitions import dropped_files, usable_as_partition
from ingestion.resources import LandingZone

# Read at import because Dagster needs the interval when it loads the sensor; it is the only
# setting read that way. Everything else is resolved from resources at tick time.
# The daemon looks at sensors every 5 s; an interval of 5 would often just miss a look and wait
# 10 s, so the default 3 means "at every look".
INTERVAL_SECONDS = int(os.environ.get("LANDING_SENSOR_INTERVAL_SECONDS", "3"))
# So that a file dropped just after a look need not wait up to 5 s for the next one, a tick keeps
# watching for most of the daemon's loop, listing landing every WATCH_POLL_SECONDS (one request per
# 1,000 waiting objects). It ends once new files have stopped arriving: a burst still being
# uploaded is shared out whole, not a run for its first few files and a queue behind them.
WATCH_SECONDS = float(os.environ.get("LANDING_SENSOR_WATCH_SECONDS", "4"))
WATCH_POLL_SECONDS = 0.5
# Once new files are seen, the look that tells whether more are coming comes sooner: a lone file's
# run is requested 0.2 s after it is seen, not 0.5 s. Uploads of a burst land far closer together.
SETTLE_POLL_SECONDS = 0.2
# Objects this many seconds older than the newest one handled are still compared with the cursor.
# S3 stamps a multipart upload with its start time, so this must outlast the slowest upload.
LOOKBACK_SECONDS = 600.0
MAX_FILES_PER_TICK = 1000
# A file still in landing this long after its upload, with no ingestion run queued or going, had
# its run fail for a reason outside the file (a bad file is quarantined): it is tried again.
REDRIVE_INTERVAL_SECONDS = int(os.environ.get("LANDING_REDRIVE_INTERVAL_SECONDS", "300"))
REDRIVE_AFTER_SECONDS = float(os.environ.get("LANDING_REDRIVE_AFTER_SECONDS", "900"))
# A file version re-driven this many times whose runs still died is quarantined, with a report
# saying how each attempt ended, rather than tried forever.
REDRIVE_MAX_ATTEMPTS = int(os.environ.get("LANDING_REDRIVE_MAX_ATTEMPTS", "3"))
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]
MAX_FILES_PER_RUN = 100
# A failed run awaiting its retry holds its files back this long at most: the daemon that launches
# retries runs beside the sensors, so a retry comes within seconds unless it never will.
RETRY_PENDING_SECONDS = 600


class LandingUnreachable(Exception):
    """The S3 store did not answer. The tick fails with this message and the next one tries again."""


def ingestion_slots(instance: dg.DagsterInstance) -> int:
    """Ingestion runs that may go at once: the run queue's limit for the ingestion pool, set in
    dagster.yaml and read from there (else the queue's overall limit), so it is written once."""
    queue = instance.get_concurrency_config().run_queue_config
    if queue is None:
        return 1
    for limit in queue.tag_concurrency_limits:
        if limit.get("key") == "stack/pool" and limit.get("limit"):
            return int(limit["limit"])
    return max(1, queue.max_concurrent_runs)


def share_out(files: list[LandedObject], runs: int, most: int = MAX_FILES_PER_RUN) -> list[list[LandedObject]]:
    """Consecutive groups of files, one per run: one file each while they fit in `runs`."""
    size = min(most, max(1, math.ceil(len(files) / runs)))
    return [files[start : start + size] for start in range(0, len(files), size)]


def run_request(files: list[LandedObject], attempt: str = "") -> dg.RunRequest:
    # The same files give the same run key, so a tick repeated after a daemon crash starts nothing
    # twice; a re-drive names its attempt, so each one starts afresh.
    identity = "\n".join(item.run_key for item in files)
    run_key = files[0].run_key if len(files) == 1 else "files:" + hashlib.sha256(identity.encode()).hexdigest()[:24]
    # Which file a run ingests, findable by tag: "<key>@<etag>" for a lone file, else the first and a count.
    source = f"{files[0].key}@{files[0].etag}" + (f" and {len(files) - 1} more" if len(files) > 1 else "")
    tags = {**INGESTION_TAGS, "stack/files": str(len(files)), "stack/source": source}
    return dg.RunRequest(
        run_key=f"{attempt}:{run_key}" if attempt else run_key,
        run_config=dg.RunConfig(
            ops={"ingest_dropped_files": IngestFiles(files=[FileVersion(key=f.key, etag=f.etag, size=f.size) for f in files])}
        ),
        tags={**tags, "stack/redrive": attempt} if attempt else tags,
    )


def landed(landing: LandingZone) -> list[LandedObject]:
    """What waits in landing; a tick that cannot list it fails saying why and that nothing is lost."""
    try:
        return list(list_landed(landing.client(), landing.bucket))
    except (S3ConnectionError, HTTPClientError) as error:
        raise LandingUnreachable(
            f"Cannot list {landing.uri('')}: the S3 store at {landing.s3.endpoint_url} does not answer ({error}). "
            "Nothing is lost: files dropped meanwhile are picked up at the first tick after it is back."
        ) from None


def ingesting_sensor(interval_seconds: int, description: str):
    """A sensor that starts runs of ingest_orders_job, running from the start."""
    return dg.sensor(
        job=ingest_orders_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )


@ingesting_sensor(
    INTERVAL_SECONDS,
    "Lists the landing bucket (skipping processed/ and quarantine/) and ingests every new object "
    "version, each into its own ingestion/orders partition; a burst is shared out over a few runs.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    cursor = Cursor.from_json(context.cursor)

    def look():
        return select_new(landed(landing), cursor, LOOKBACK_SECONDS, MAX_FILES_PER_TICK)

    selection = look()
    # While a burst is being ingested, its runs are busy anyway and need the CPU that listing
    # hundreds of waiting files takes: one look per tick then.
    slots = ingestion_slots(context.instance)
    ingesting_a_burst = selection.waiting - len(selection.new) >= slots
    watch_until = time.monotonic() + (0 if ingesting_a_burst else WATCH_SECONDS)
    while len(selection.new) < MAX_FILES_PER_TICK:
        pause = SETTLE_POLL_SECONDS if selection.new else WATCH_POLL_SECONDS
        if time.monotonic() + pause >= watch_until:
            break
        time.sleep(pause)
        previous, selection = selection, look()
        if selection.new and len(selection.new) == len(previous.new):
            break
    if not selection.new:
        reason = f"No new objects in s3://{landing.bucket}: {selection.waiting} waiting, all already requested."
        return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=selection.cursor.to_json())
    # Every new file gets a run; one whose name Dagster refuses as a partition key is quarantined
    # there, with a report, rather than left in landing.
    partitions = [item.key for item in selection.new if usable_as_partition(item.key)]
    return dg.SensorResult(
        run_requests=[run_request(group) for group in share_out(selection.new, slots)],
        dynamic_partitions_requests=[dropped_files.build_add_request(partitions)] if partitions else [],
        cursor=selection.cursor.to_json(),
    )


def retries_pending(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Failed ingestion runs that Dagster will retry (run_retries) but has not yet: the daemon
    launches a retry seconds after the failure, and meanwhile no run of the file is unfinished."""
    failed = instance.get_runs(
        dg.RunsFilter(
            job_name=ingest_orders_job.name,
            statuses=[dg.DagsterRunStatus.FAILURE],
            tags={WILL_RETRY_TAG: "true"},
            updated_after=datetime.now(UTC) - timedelta(seconds=RETRY_PENDING_SECONDS),
        )
    )
    # Dagster names the retry on the failed run once it has made it.
    return [run for run in failed if AUTO_RETRY_RUN_ID_TAG not in run.tags]


def versions_in_flight(instance: dg.DagsterInstance) -> set[tuple[str, str]]:
    """(key, ETag) of every file an ingestion run queued or going, or about to be retried, was
    asked to ingest, from its config."""
    unfinished = instance.get_runs(dg.RunsFilter(job_name=ingest_orders_job.name, statuses=UNFINISHED))
    runs = [*unfinished, *retries_pending(instance)]
    named = set()
    for run in runs:
        config = run.run_config.get("ops", {}).get("ingest_dropped_files", {}).get("config", {})
        named.update((file["key"], file["etag"].strip('"')) for file in config.get("files", []))
    return named


def recent_redrives(instance: dg.DagsterInstance, runs: int = 1000) -> int:
    """How many of the latest `runs` ingestion runs were re-drives."""
    latest = instance.get_runs(dg.RunsFilter(job_name=ingest_orders_job.name), limit=runs)
    return sum(1 for run in latest if "stack/redrive" in run.tags)


def attempts_at(instance: dg.DagsterInstance, item: LandedObject) -> list[dg.RunRecord]:
    """The runs that ingested this file version alone (its first run if lone, and every re-drive)."""
    return instance.get_run_records(
        dg.RunsFilter(job_name=ingest_orders_job.name, tags={"stack/source": f"{item.key}@{item.etag}"})
    )


def attempts_report(item: LandedObject, attempts: list[dg.RunRecord]) -> dict:
    return {
        "file": item.key,
        "problem": f"its ingestion runs died {len(attempts)} time(s) for reasons outside the file "
        "(worker killed or out of memory, an outage past retries); it is set aside rather than tried forever",
        "etag": item.etag,
        "size_bytes": item.size,
        "attempts": [
            {
                "run_id": record.dagster_run.run_id,
                "status": record.dagster_run.status.value,
                "redrive": record.dagster_run.tags.get("stack/redrive", ""),
                "started": record.start_time,
                "ended": record.end_time,
            }
            for record in sorted(attempts, key=lambda record: record.create_timestamp)
        ],
    }


@ingesting_sensor(
    REDRIVE_INTERVAL_SECONDS,
    "Tries again, nobody clicking, the files whose run failed for a reason outside the file (an "
    "outage outlasting the step's retries, a worker killed past run retries): files still in "
    f"landing {REDRIVE_AFTER_SECONDS:.0f} s after upload with no run of theirs queued or going; "
    f"after {REDRIVE_MAX_ATTEMPTS} re-drives a file is quarantined with a report of its attempts.",
)
def landing_redrive_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    now = time.time()
    stale = [item for item in landed(landing) if now - item.last_modified > REDRIVE_AFTER_SECONDS]
    if not stale:
        return dg.SensorResult(skip_reason=f"Nothing in s3://{landing.bucket} waits longer than {REDRIVE_AFTER_SECONDS:.0f} s.")
    retry, busy = [], 0
    in_flight = versions_in_flight(context.instance)
    for item in stale[:MAX_FILES_PER_TICK]:
        # Judged per file: only a run that names this very version holds it back, never other files' runs.
        if (item.key, item.etag) in in_flight:
            busy += 1
            continue
        attempts = attempts_at(context.instance, item)
        if len({record.dagster_run.tags.get("stack/redrive") for record in attempts} - {None}) >= REDRIVE_MAX_ATTEMPTS:
            moved = landing.quarantine(item.key, f'"{item.etag}"', attempts_report(item, attempts))
            context.log.error(f"Quarantined {landing.uri(item.key)} after {REDRIVE_MAX_ATTEMPTS} re-drives: see {moved}.error.json")
        else:
            retry.append(item)
    if not retry:
        return dg.SensorResult(skip_reason=f"{busy} waiting file(s) have a run queued or going; nothing else to try again.")
    context.log.warning(f"Trying {len(retry)} file(s) again: their runs ended without handling them.")
    attempt = f"redrive-{time.time_ns() // 1000}"  # each tick's attempt its own label
    # One run per file: each attempt is then findable by its file's `stack/source` tag.
    return dg.SensorResult(run_requests=[run_request([item], attempt) for item in retry])
