"""The stack's metrics in Prometheus's text format on :9464/metrics (docs/operations.md, "Metrics").

Everything is computed when scraped (a prometheus-client Collector): between scrapes the process
only waits, so a stack nobody scrapes pays its memory and no CPU. It reads Dagster's instance as
the reader role (SELECT only) and lists the landing bucket as the reader identity (list only);
the listing and the warehouse lag, the two costly reads, are kept METRICS_CACHE_SECONDS, so a fast
scraper cannot hammer S3 or Postgres. /healthz answers without computing anything.
"""

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import boto3
import dagster as dg
import sqlalchemy
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from stack_contract import landing_area, not_in_warehouse

from stack_s3 import iter_objects

PORT = 9464
# A listing stops here (about 100 S3 requests): a bucket left full of files cannot make scrapes slow.
MAX_LISTED = 100_000
log = logging.getLogger("metrics-exporter")

# Runs by job and status in one query: Dagster's API counts runs per filter, which would take a
# query per job and status, and knows no list of job names without reading every run.
RUNS_BY_JOB_AND_STATUS = sqlalchemy.text(
    "SELECT pipeline_name, status, count(*), max(end_time) FROM runs GROUP BY pipeline_name, status"
)
FINISHED = {status.value for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)}
LANDING_AREAS = ("waiting", "processed", "quarantined")
AUTOMATION_TYPES = {InstigatorType.SENSOR: "sensor", InstigatorType.SCHEDULE: "schedule"}


def gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class Cached:
    """A costly reading, taken again only once `seconds` have passed since the last."""

    def __init__(self, read: Callable[[], object], seconds: float):
        self.read, self.seconds, self.value, self.taken = read, seconds, None, float("-inf")

    def get(self):
        if time.monotonic() - self.taken >= self.seconds:
            self.value, self.taken = self.read(), time.monotonic()
        return self.value


class StackCollector(Collector):
    def __init__(self, instance: dg.DagsterInstance, landing_bucket: str, cache_seconds: float, max_listed: int):
        self.instance, self.landing_bucket, self.max_listed = instance, landing_bucket, max_listed
        self.s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL"))
        self.landing = Cached(self.count_landing, cache_seconds)
        self.warehouse_lag = Cached(lambda: len(not_in_warehouse(instance)), cache_seconds)
        # One scrape at a time: a second scraper waits rather than doubling the load.
        self.lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        with self.lock:
            started = time.monotonic()
            ok = gauge("dagster_metrics_source_up", "1 if the last scrape could read this source, else 0 (see the exporter's log).", ["source"])
            for source, read in (("runs", self.runs), ("automation", self.automation), ("daemons", self.daemons),
                                 ("landing", self.landing_files), ("warehouse", self.warehouse)):
                try:
                    families = list(read(time.time()))
                except Exception:
                    log.exception("reading %s failed", source)
                    ok.add_metric([source], 0)
                else:
                    ok.add_metric([source], 1)
                    yield from families
            yield ok
            took = gauge("dagster_metrics_scrape_seconds", "How long the exporter took to compute this scrape.")
            took.add_metric([], time.monotonic() - started)
            yield took

    def runs(self, now: float) -> Iterable[Metric]:
        with self.instance.run_storage.connect() as connection:
            rows = connection.execute(RUNS_BY_JOB_AND_STATUS).fetchall()
        runs = gauge("dagster_runs", "Runs in Dagster's run storage, by job and status (retention deletes old ones).", ["job_name", "status"])
        # When a job's latest run of each outcome ended: a new failure shows here even for a job's
        # first, and retention deleting old runs cannot make it look like one.
        ended = gauge("dagster_run_last_finished_timestamp_seconds", "When the job's latest run with this outcome ended (Unix time).", ["job_name", "status"])
        for job, status, count, last_end in rows:
            runs.add_metric([job, status], count)
            if status in FINISHED and last_end is not None:
                ended.add_metric([job, status], last_end)
        yield runs
        yield ended
        queued = dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])
        depth = gauge("dagster_run_queue_depth", "Runs waiting in the queue for a slot.")
        depth.add_metric([], self.instance.get_runs_count(queued))
        yield depth
        oldest = self.instance.get_run_records(queued, limit=1, order_by="create_timestamp", ascending=True)
        age = gauge("dagster_run_queue_oldest_age_seconds", "How long the oldest queued run has waited; 0 with none queued.")
        age.add_metric([], max(0.0, now - oldest[0].create_timestamp.timestamp()) if oldest else 0.0)
        yield age

    def automation(self, now: float) -> Iterable[Metric]:
        labels = ["kind", "name", "location"]
        tick_age = gauge("dagster_tick_age_seconds", "Age of the latest tick of each running sensor and schedule.", labels)
        failing = gauge("dagster_tick_failing", "1 if the latest tick of a running sensor or schedule failed, else 0.", labels)
        for state in self.instance.all_instigator_state():
            kind = AUTOMATION_TYPES.get(state.instigator_type)
            if kind is None or not state.is_running:
                continue
            latest = self.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
            if not latest:
                continue
            location = state.origin.repository_origin.code_location_origin.location_name
            names = [kind, state.instigator_name, location]
            tick_age.add_metric(names, max(0.0, now - latest[0].timestamp))
            failing.add_metric(names, 1 if latest[0].status == TickStatus.FAILURE else 0)
        yield tick_age
        yield failing

    def daemons(self, now: float) -> Iterable[Metric]:
        age = gauge("dagster_daemon_heartbeat_age_seconds", "Age of each Dagster daemon's latest heartbeat.", ["daemon"])
        errors = gauge("dagster_daemon_heartbeat_errors", "Errors the daemon's latest heartbeat reported.", ["daemon"])
        for daemon, heartbeat in sorted(self.instance.get_daemon_heartbeats().items()):
            age.add_metric([daemon], max(0.0, now - heartbeat.timestamp))
            errors.add_metric([daemon], len(heartbeat.errors or []))
        yield age
        yield errors

    def count_landing(self) -> tuple[Counter, bool]:
        """Files per area of the landing bucket, and whether the listing stopped at max_listed."""
        counts: Counter = Counter()
        for listed, entry in enumerate(iter_objects(self.s3, self.landing_bucket), start=1):
            if listed > self.max_listed:
                return counts, True
            if area := landing_area(entry["Key"]):
                counts[area] += 1
        return counts, False

    def landing_files(self, now: float) -> Iterable[Metric]:
        counts, truncated = self.landing.get()
        files = gauge("dagster_landing_files", "Files in the landing bucket: waiting, processed, quarantined.", ["area"])
        for area in LANDING_AREAS:
            files.add_metric([area], counts[area])
        yield files
        stopped = gauge("dagster_landing_listing_truncated", f"1 if the landing bucket held over {MAX_LISTED} objects: the counts stop there.")
        stopped.add_metric([], 1 if truncated else 0)
        yield stopped

    def warehouse(self, now: float) -> Iterable[Metric]:
        lag = gauge("dagster_warehouse_lag_files", "Ingested files whose rows the warehouse has not loaded yet.")
        lag.add_metric([], self.warehouse_lag.get())
        yield lag


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        """Scrapes are not worth a log line each."""


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def application(registry: CollectorRegistry):
    metrics = make_wsgi_app(registry)

    def serve(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return metrics(environ, start_response)

    return serve


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    registry = CollectorRegistry()
    # The exporter's own CPU and memory (process_*), besides the stack's.
    ProcessCollector(registry=registry)
    registry.register(StackCollector(
        dg.DagsterInstance.get(),
        landing_bucket=os.environ["LANDING_BUCKET"],
        cache_seconds=float(os.environ.get("METRICS_CACHE_SECONDS") or 60),
        max_listed=MAX_LISTED,
    ))
    server = make_server("0.0.0.0", PORT, application(registry), ThreadingServer, QuietHandler)
    log.info("serving the stack's metrics on :%d/metrics", PORT)
    server.serve_forever()


if __name__ == "__main__":
    main()
