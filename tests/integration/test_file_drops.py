"""The file-drop flow on the live stack: an upload to the landing bucket becomes a sensor run in
its own container, a Parquet table, a materialized partition and passing checks."""

import io
import json
import time
import uuid

import pyarrow.parquet as pq
import pytest

from .orders import orders_csv
from .stack import REPO

CHECKS = ("orders_schema_matches", "orders_row_count", "orders_null_rate", "orders_unique_ids")

CHECK_EXECUTIONS = """
query ($check: String!, $partition: String!) {
  assetCheckExecutions(assetKey: {path: ["ingestion", "orders"]}, checkName: $check, partition: $partition, limit: 5) {
    runId status evaluation { success }
  }
}
"""
RUN_FAILURE_MESSAGES = """
query ($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""


def unique_key(name: str) -> str:
    return f"tests/{uuid.uuid4().hex[:8]}/{name}"


def parquet_rows(stack, key: str) -> int:
    body = stack.s3().get_object(Bucket=stack.settings["IO_MANAGER_BUCKET"], Key=f"ingestion/orders/{key}.parquet")
    return pq.read_table(io.BytesIO(body["Body"].read())).num_rows


def test_dropped_file_is_ingested_in_its_own_container_and_checked(stack):
    key = unique_key("orders été 2024.csv")
    run = stack.wait_for_sensor_run(stack.drop(key, orders_csv(25)))

    assert run["status"] == "SUCCESS"
    container = stack.run_container(run["runId"])
    assert container.image.tags[0] == stack.code_location_images()["ingestion"]
    assert parquet_rows(stack, key) == 25

    assert [m["runId"] for m in stack.materializations(key)] == [run["runId"]]
    for check in CHECKS:
        executions = stack.query(CHECK_EXECUTIONS, {"check": check, "partition": key})["assetCheckExecutions"]
        assert executions and executions[0]["evaluation"]["success"], f"{check}: {executions}"

    landing = stack.s3()
    processed = landing.get_object(Bucket=stack.settings["LANDING_BUCKET"], Key=f"processed/{key}")
    assert processed["Body"].read() == orders_csv(25)


def test_identical_reupload_starts_nothing_and_new_bytes_start_a_new_run(stack):
    key = unique_key("orders.csv")
    first_key = stack.drop(key, orders_csv(12))
    assert stack.wait_for_sensor_run(first_key)["status"] == "SUCCESS"

    uploaded_again = time.time()
    assert stack.drop(key, orders_csv(12)) == first_key
    stack.wait_for_sensor_ticks(2, since=uploaded_again)
    assert len(stack.runs_tagged("dagster/run_key", first_key)) == 1

    second_key = stack.drop(key, orders_csv(14, first_id=500))
    assert second_key != first_key
    assert stack.wait_for_sensor_run(second_key)["status"] == "SUCCESS"
    assert parquet_rows(stack, key) == 14


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("bad-wrong-types.csv", "line 3, column 'quantity': 'two' is not a whole number"),
        ("bad-empty.csv", "empty"),
        ("bad-unsupported.json", "unsupported"),
    ],
)
def test_bad_file_is_quarantined_with_a_report_and_its_run_says_why(stack, sample, expected):
    key = unique_key(sample)
    body = (REPO / "samples" / sample).read_bytes()
    run = stack.wait_for_sensor_run(stack.drop(key, body))

    assert run["status"] == "FAILURE"
    bucket = stack.settings["LANDING_BUCKET"]
    s3 = stack.s3()
    assert s3.get_object(Bucket=bucket, Key=f"quarantine/{key}")["Body"].read() == body
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"quarantine/{key}.error.json")["Body"].read())
    assert expected in report["message"].lower() or expected in report["message"]
    assert report["run_id"] == run["runId"]

    events = stack.query(RUN_FAILURE_MESSAGES, {"runId": run["runId"]})["logsForRun"]["events"]
    assert any(report["message"] in (event.get("message") or "") for event in events)
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0, "original left in landing"


def test_a_burst_of_20_files_gives_exactly_20_successful_runs(stack):
    prefix = f"tests/burst-{uuid.uuid4().hex[:8]}"
    run_keys = [stack.drop(f"{prefix}/orders-{i:02d}.csv", orders_csv(10 + i, first_id=1000 * i)) for i in range(20)]

    runs = [stack.wait_for_sensor_run(run_key, timeout=300) for run_key in run_keys]

    assert [run["status"] for run in runs] == ["SUCCESS"] * 20
    assert len({run["runId"] for run in runs}) == 20
    for run_key in run_keys:
        assert len(stack.runs_tagged("dagster/run_key", run_key)) == 1, f"duplicate runs for {run_key}"
    for i in range(20):
        assert parquet_rows(stack, f"{prefix}/orders-{i:02d}.csv") == 10 + i
