"""The metrics exporter (deploy/metrics/metrics-exporter.py) against a real Dagster instance and a
real S3 store: what it reports after runs and drops, parsed as Prometheus parses it."""

import importlib.util
import time

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.repo import REPO


def load_exporter():
    spec = importlib.util.spec_from_file_location("metrics_exporter", REPO / "deploy" / "metrics" / "metrics-exporter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exporter = load_exporter()


def samples(collector) -> dict[tuple[str, tuple], float]:
    """(sample name, its labels sorted) -> value, as a scraper reads the text format."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@dg.op
def succeed():
    return 1


@dg.op
def explode():
    raise RuntimeError("boom")


@dg.job
def good_job():
    succeed()


@dg.job
def bad_job():
    explode()


def test_runs_queue_and_landing_files(instance, s3_client, landing_bucket):
    for key in ("incoming/a.csv", "processed/b.csv/etag", "quarantine/c.csv", "quarantine/c.csv.error.json"):
        s3_client.put_object(Bucket=landing_bucket, Key=key, Body=b"x")
    assert good_job.execute_in_process(instance=instance).success
    failed_before = time.time()
    assert not bad_job.execute_in_process(instance=instance, raise_on_error=False).success
    # Held in the queue as the daemon's coordinator holds one: with its code location's origin.
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__))
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "good_job")
    queued = instance.add_run(dg.DagsterRun(
        job_name="good_job", run_id=make_new_run_id(), status=dg.DagsterRunStatus.QUEUED, remote_job_origin=origin,
    ))

    seen = samples(exporter.StackCollector(instance, landing_bucket, cache_seconds=0, max_listed=100))

    assert seen[("dagster_runs", (("job_name", "good_job"), ("status", "SUCCESS")))] == 1
    assert seen[("dagster_runs", (("job_name", "bad_job"), ("status", "FAILURE")))] == 1
    assert seen[("dagster_runs", (("job_name", "good_job"), ("status", "QUEUED")))] == 1
    assert seen[("dagster_run_last_finished_timestamp_seconds", (("job_name", "bad_job"), ("status", "FAILURE")))] >= failed_before - 1
    assert seen[("dagster_run_queue_depth", ())] == 1
    oldest = seen[("dagster_run_queue_oldest_age_seconds", ())]
    assert 0 <= oldest < time.time() - instance.get_run_record_by_id(queued.run_id).create_timestamp.timestamp() + 5
    # The quarantine report is no file of its own.
    assert {area: seen[("dagster_landing_files", (("area", area),))] for area in ("waiting", "processed", "quarantined")} == {
        "waiting": 1, "processed": 1, "quarantined": 1,
    }
    assert seen[("dagster_landing_listing_truncated", ())] == 0
    assert seen[("dagster_warehouse_lag_files", ())] == 0
    sources = {labels[0][1]: value for (name, labels), value in seen.items() if name == "dagster_metrics_source_up"}
    assert sources == {"runs": 1, "automation": 1, "daemons": 1, "landing": 1, "warehouse": 1}


def test_the_landing_listing_is_bounded_and_cached(instance, s3_client, landing_bucket):
    for number in range(3):
        s3_client.put_object(Bucket=landing_bucket, Key=f"incoming/{number}.csv", Body=b"x")
    bounded = samples(exporter.StackCollector(instance, landing_bucket, cache_seconds=0, max_listed=2))
    assert bounded[("dagster_landing_listing_truncated", ())] == 1
    assert bounded[("dagster_landing_files", (("area", "waiting"),))] == 2

    cached = exporter.StackCollector(instance, landing_bucket, cache_seconds=3600, max_listed=100)
    assert samples(cached)[("dagster_landing_files", (("area", "waiting"),))] == 3
    s3_client.put_object(Bucket=landing_bucket, Key="incoming/late.csv", Body=b"x")
    assert samples(cached)[("dagster_landing_files", (("area", "waiting"),))] == 3, "listed again within the TTL"


def test_a_source_that_cannot_be_read_reports_down_and_the_rest_still_comes(instance, stack_env):
    seen = samples(exporter.StackCollector(instance, "no-such-bucket", cache_seconds=0, max_listed=100))
    sources = {labels[0][1]: value for (name, labels), value in seen.items() if name == "dagster_metrics_source_up"}
    assert sources["landing"] == 0 and sources["runs"] == 1
    assert ("dagster_run_queue_depth", ()) in seen


@pytest.fixture
def served(instance, stack_env, unused_port):
    """The exporter's HTTP server on a free port, in a thread."""
    import threading
    from wsgiref.simple_server import make_server

    registry = CollectorRegistry()
    registry.register(exporter.StackCollector(instance, stack_env["LANDING_BUCKET"], cache_seconds=0, max_listed=100))
    server = make_server("127.0.0.1", unused_port, exporter.application(registry), exporter.ThreadingServer, exporter.QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{unused_port}"
    server.shutdown()


def test_healthz_computes_nothing_and_metrics_serve_the_text_format(served):
    import requests

    health = requests.get(f"{served}/healthz", timeout=5)
    assert health.status_code == 200 and health.text == "ok\n"
    metrics = requests.get(f"{served}/metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(metrics.text)}
    assert {"dagster_runs", "dagster_landing_files", "dagster_daemon_heartbeat_age_seconds"} <= names
