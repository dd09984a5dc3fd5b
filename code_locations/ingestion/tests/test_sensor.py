"""The landing sensor against a real S3 server, tick after tick, and its pure cursor logic."""

import json
import threading

import dagster as dg
import pytest
import yaml

from ingestion import sensors
from ingestion.ingest import IngestFiles
from ingestion.listing import Cursor, LandedObject, select_new
from ingestion.resources import LandingZone, s3
from ingestion.sensors import LandingUnreachable, ingestion_slots, landing_sensor, share_out
from tests.harness.repo import REPO

# The run queue of dagster.yaml (its ingestion pool limit is what the sensor shares bursts over).
RUN_QUEUE = yaml.safe_load((REPO / "dagster.yaml").read_text())["run_queue"]
PARALLEL_RUNS = RUN_QUEUE["tag_concurrency_limits"][0]["limit"]


@pytest.fixture
def instance():
    with dg.instance_for_test(
        overrides={"run_queue": {"max_concurrent_runs": 8, "tag_concurrency_limits": RUN_QUEUE["tag_concurrency_limits"]}}
    ) as configured:
        yield configured


@pytest.fixture(autouse=True)
def look_once(monkeypatch):
    """Ticks look at landing once (LANDING_SENSOR_WATCH_SECONDS=0); the watch has a test of its own."""
    monkeypatch.setattr(sensors, "WATCH_SECONDS", 0.0)


def listed_files(request):
    """The file versions a run request names, read back as the run's typed config."""
    return IngestFiles(**request.run_config["ops"]["ingest_dropped_files"]["config"]).files


def files_of(request):
    return [file.key for file in listed_files(request)]


def run_keys(result):
    """The run key of each request with the upload time left out, or the group's hash."""
    return [r.run_key.split("@")[0] if "@" in r.run_key else r.run_key for r in result.run_requests]


def tick(instance, cursor=None):
    landing = LandingZone(s3=s3, bucket=dg.EnvVar("LANDING_BUCKET"))
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing}) as context:
        result = landing_sensor(context)
    partitions = [key for request in result.dynamic_partitions_requests for key in request.partition_keys]
    return result, partitions


def test_ticks_request_one_run_per_new_object_version(drop, s3_client, landing_bucket, instance):
    a = drop("a.csv", "orders-2024-05-01.csv")
    drop("nested/deeper/commandes été 2024.csv", "commandes été 2024.csv")
    drop("processed/old.csv", body=b"ignored")
    drop("quarantine/bad.csv.error.json", body=b"{}")

    first, partitions = tick(instance)
    # Few files: a run each, at once.
    assert sorted(run_keys(first)) == sorted(["a.csv", "nested/deeper/commandes été 2024.csv"])
    assert sorted(partitions) == ["a.csv", "nested/deeper/commandes été 2024.csv"]
    assert all(r.tags["stack/pool"] == "ingestion" for r in first.run_requests)
    assert sorted(k for r in first.run_requests for k in files_of(r)) == sorted(partitions)
    assert f"a.csv@{a['ETag'].strip(chr(34))}@" in " ".join(r.run_key for r in first.run_requests)
    # The run is told which bytes to ingest: the version the sensor listed, no second look needed.
    (a_file,) = [f for r in first.run_requests for f in listed_files(r) if f.key == "a.csv"]
    assert (a_file.etag, a_file.size) == (a["ETag"].strip('"'), a["ContentLength"])

    quiet, _ = tick(instance, first.cursor)
    assert not quiet.run_requests and "No new objects" in quiet.skip_reason.skip_message

    # New bytes under the same key: a new run for the same partition.
    changed = drop("a.csv", "orders-with-warnings.csv")
    overwrite, partitions = tick(instance, first.cursor)
    assert [r.run_key.rsplit("@", 1)[0] for r in overwrite.run_requests] == [f"a.csv@{changed['ETag'].strip(chr(34))}"]
    assert partitions == ["a.csv"]


def test_a_tick_finding_landing_empty_watches_it_and_requests_a_file_dropped_meanwhile(drop, instance, monkeypatch):
    monkeypatch.setattr(sensors, "WATCH_SECONDS", 30.0)
    late_drop = threading.Timer(1.0, drop, args=("late.csv", "orders-2024-05-01.csv"))
    late_drop.start()
    try:
        result, partitions = tick(instance)
    finally:
        late_drop.join()
    assert run_keys(result) == ["late.csv"] and partitions == ["late.csv"]


def test_a_tick_takes_a_burst_still_being_uploaded_whole(drop, instance, monkeypatch):
    monkeypatch.setattr(sensors, "WATCH_SECONDS", 30.0)
    monkeypatch.setattr(sensors, "WATCH_POLL_SECONDS", 0.01)
    monkeypatch.setattr(sensors, "SETTLE_POLL_SECONDS", 0.01)
    keys = [f"burst-{n}.csv" for n in range(2 * PARALLEL_RUNS)]
    # What arrives just before each look: nothing yet, the burst's first files, the rest, nothing more.
    arrivals = iter([[], keys[:3], keys[3:]])
    list_landing = sensors.landed

    def landed_as_uploads_arrive(landing):
        for key in next(arrivals, []):
            drop(key, "orders-2024-05-01.csv")
        return list_landing(landing)

    monkeypatch.setattr(sensors, "landed", landed_as_uploads_arrive)
    result, _ = tick(instance)
    assert sorted(k for r in result.run_requests for k in files_of(r)) == sorted(keys)
    assert len(result.run_requests) == PARALLEL_RUNS


def test_once_a_file_is_seen_the_next_look_comes_sooner(drop, instance, monkeypatch):
    """A lone file's run is requested one short pause after it is seen, not a whole watch poll."""
    monkeypatch.setattr(sensors, "WATCH_SECONDS", 30.0)
    drop("lone.csv", "orders-2024-05-01.csv")
    pauses = []
    monkeypatch.setattr(sensors.time, "sleep", pauses.append)
    result, _ = tick(instance)
    assert run_keys(result) == ["lone.csv"]
    assert pauses == [sensors.SETTLE_POLL_SECONDS] and sensors.SETTLE_POLL_SECONDS < sensors.WATCH_POLL_SECONDS


def test_while_a_burst_is_being_ingested_a_tick_looks_once(drop, instance, monkeypatch):
    for n in range(PARALLEL_RUNS):
        drop(f"waiting-{n}.csv", "orders-2024-05-01.csv")
    first, _ = tick(instance)
    monkeypatch.setattr(sensors, "WATCH_SECONDS", 30.0)
    looks = []
    list_landing = sensors.landed
    monkeypatch.setattr(sensors, "landed", lambda landing: looks.append(1) or list_landing(landing))
    second, _ = tick(instance, first.cursor)
    assert not second.run_requests and len(looks) == 1


def test_a_burst_is_shared_out_over_a_few_runs(drop, instance):
    for i in range(30):
        drop(f"burst/{i:02d}.csv", body=b"x")
    result, partitions = tick(instance)
    assert len(partitions) == 30 and len(result.run_requests) == PARALLEL_RUNS
    ingested = [key for request in result.run_requests for key in files_of(request)]
    assert sorted(ingested) == sorted(partitions) and len(set(ingested)) == 30
    # The same files give the same run keys: a tick repeated after a crash starts nothing twice.
    repeated, _ = tick(instance)
    assert run_keys(repeated) == run_keys(result)


def test_bursts_are_shared_over_the_ingestion_pools_limit_in_dagster_yaml(instance):
    assert ingestion_slots(instance) == PARALLEL_RUNS
    with dg.instance_for_test(overrides={"run_queue": {"max_concurrent_runs": 3}}) as without_pool_limit:
        assert ingestion_slots(without_pool_limit) == 3


def test_share_out_gives_lone_files_their_own_run_and_caps_large_runs():
    files = [LandedObject(key=f"k{i}", etag="e", last_modified=100.0, size=1) for i in range(1000)]
    assert [len(group) for group in share_out(files[:3], runs=4)] == [1, 1, 1]
    assert [len(group) for group in share_out(files[:10], runs=4)] == [3, 3, 3, 1]
    assert {len(group) for group in share_out(files, runs=4, most=100)} == {100}


def test_cursor_survives_its_object_being_deleted(drop, s3_client, landing_bucket, instance):
    drop("one.csv", body=b"1")
    drop("two.csv", body=b"2")
    first, _ = tick(instance)
    newest = json.loads(first.cursor)
    for key in ("one.csv", "two.csv"):
        s3_client.delete_object(Bucket=landing_bucket, Key=key)
    drop("three.csv", body=b"3")
    second, _ = tick(instance, first.cursor)
    assert [k for r in second.run_requests for k in files_of(r)] == ["three.csv"]
    assert json.loads(second.cursor)["last_modified"] >= newest["last_modified"]


def test_objects_sharing_a_timestamp_are_told_apart_by_key():
    def obj(key, etag="e", at=100.0):
        return LandedObject(key=key, etag=etag, last_modified=at, size=1)

    first = select_new([obj("a"), obj("b")], Cursor(), lookback=0, limit=100)
    assert [o.key for o in first.new] == ["a", "b"] and first.cursor.last_modified == 100.0
    # Another object lands in the same second after the tick: still new.
    second = select_new([obj("a"), obj("b"), obj("c")], first.cursor, lookback=0, limit=100)
    assert [o.key for o in second.new] == ["c"]
    assert set(second.cursor.seen) == {"a", "b", "c"}
    # Older than the cursor (beyond the lookback) is not reconsidered; a newer second resets `seen`.
    third = select_new([obj("old", at=50.0), obj("d", at=101.0)], second.cursor, lookback=0, limit=100)
    assert [o.key for o in third.new] == ["d"] and set(third.cursor.seen) == {"d"}


def test_limit_per_tick_defers_the_rest_without_losing_them():
    objects = [LandedObject(key=f"k{i}", etag="e", last_modified=100.0, size=1) for i in range(5)]
    first = select_new(objects, Cursor(), lookback=30, limit=2)
    second = select_new(objects, Cursor.from_json(first.cursor.to_json()), lookback=30, limit=2)
    third = select_new(objects, second.cursor, lookback=30, limit=2)
    assert [o.key for s in (first, second, third) for o in s.new] == [f"k{i}" for i in range(5)]


def test_a_store_that_does_not_answer_fails_the_tick_with_a_clear_message(stack_env, unused_port, instance, monkeypatch):
    # Nothing listens on a fresh port: the same refusal as a stopped S3 container.
    endpoint = f"http://127.0.0.1:{unused_port}"
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(LandingUnreachable) as unreachable:
        tick(instance)
    assert f"the S3 store at {endpoint} does not answer" in str(unreachable.value)
    assert "Nothing is lost" in str(unreachable.value)


def test_a_file_dagster_refuses_as_a_partition_gets_a_run_but_no_partition(drop, instance):
    drop("ok.csv", "orders-2024-05-01.csv")
    drop("odd...name.csv", "orders-2024-05-01.csv")
    drop("tab\there.csv", "orders-2024-05-01.csv")
    result, partitions = tick(instance)
    # Its run quarantines it with a report; left in landing it would wait there forever.
    assert sorted(k for r in result.run_requests for k in files_of(r)) == ["odd...name.csv", "ok.csv", "tab\there.csv"]
    assert partitions == ["ok.csv"]


def redrive_tick(instance):
    landing = LandingZone(s3=s3, bucket=dg.EnvVar("LANDING_BUCKET"))
    with dg.build_sensor_context(instance=instance, resources={"landing": landing}) as context:
        return sensors.landing_redrive_sensor(context)


def test_files_left_in_landing_by_failed_runs_are_tried_again_then_quarantined(drop, s3_client, landing_bucket, instance, monkeypatch):
    head = drop("stuck.csv", "orders-2024-05-01.csv")
    etag = head["ETag"].strip('"')
    assert "waits longer" in redrive_tick(instance).skip_reason.skip_message, "a fresh file is the landing sensor's"

    monkeypatch.setattr(sensors, "REDRIVE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(sensors, "REDRIVE_MAX_ATTEMPTS", 2)
    # Other files' runs going on all the while never hold a stranded file back.
    instance.add_run(dg.DagsterRun(job_name="ingest_orders_job", status=dg.DagsterRunStatus.STARTED, tags={"stack/source": "other.csv@e"}))
    for _ in range(2):
        (request,) = redrive_tick(instance).run_requests
        assert files_of(request) == ["stuck.csv"] and request.tags["stack/redrive"].startswith("redrive-")
        assert request.run_key.startswith(request.tags["stack/redrive"] + ":stuck.csv@"), "each attempt starts afresh"
        # The attempt's worker is killed: while it runs nothing more is asked; then it has failed.
        run = dg.DagsterRun(
            job_name="ingest_orders_job", status=dg.DagsterRunStatus.STARTED, tags=request.tags, run_config=request.run_config
        )
        instance.add_run(run)
        assert not redrive_tick(instance).run_requests
        instance.report_run_failed(run)

    assert not redrive_tick(instance).run_requests
    assert keys(s3_client, landing_bucket) == ["quarantine/stuck.csv", "quarantine/stuck.csv.error.json"]
    report = json.loads(s3_client.get_object(Bucket=landing_bucket, Key="quarantine/stuck.csv.error.json")["Body"].read())
    assert report["file"] == "stuck.csv" and report["etag"] == etag
    assert [a["status"] for a in report["attempts"]] == ["FAILURE", "FAILURE"] and len({a["redrive"] for a in report["attempts"]}) == 2


def keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_a_file_whose_failed_run_awaits_its_retry_is_neither_tried_again_nor_quarantined(drop, s3_client, landing_bucket, monkeypatch):
    """Dagster launches a failed run's retry seconds after the failure; a look meanwhile sees no run
    of the file unfinished. The fault suite caught the quarantine in that gap, and the retry then
    started on a file no longer there."""
    drop("stuck.csv", "orders-2024-05-01.csv")
    monkeypatch.setattr(sensors, "REDRIVE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(sensors, "REDRIVE_MAX_ATTEMPTS", 1)
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 1}}) as instance:
        (request,) = redrive_tick(instance).run_requests
        redriven = dg.DagsterRun(
            job_name="ingest_orders_job", status=dg.DagsterRunStatus.STARTED, tags=request.tags, run_config=request.run_config
        )
        instance.add_run(redriven)
        instance.report_run_failed(redriven)  # its worker killed: Dagster will retry it
        assert instance.get_run_by_id(redriven.run_id).tags.get("dagster/will_retry") == "true"
        assert not redrive_tick(instance).run_requests
        assert "stuck.csv" in keys(s3_client, landing_bucket), "quarantined while its retry was due"

        retry = dg.DagsterRun(  # as Dagster's retry daemon makes it
            job_name="ingest_orders_job", status=dg.DagsterRunStatus.STARTED, run_config=request.run_config,
            parent_run_id=redriven.run_id, root_run_id=redriven.run_id,
            tags={**request.tags, "dagster/parent_run_id": redriven.run_id, "dagster/root_run_id": redriven.run_id},
        )
        instance.add_run(retry)
        instance.add_run_tags(redriven.run_id, {"dagster/auto_retry_run_id": retry.run_id})
        assert not redrive_tick(instance).run_requests
        instance.report_run_failed(retry)  # the last retry: nothing more is coming
        assert instance.get_run_by_id(retry.run_id).tags.get("dagster/will_retry") == "false"
        assert not redrive_tick(instance).run_requests
        assert keys(s3_client, landing_bucket) == ["quarantine/stuck.csv", "quarantine/stuck.csv.error.json"]
