"""The file-drop flow on the live stack: an upload to the landing bucket becomes a sensor run in
its own container, a Parquet table, a materialized partition and passing checks."""

import io
import json
import uuid

import pyarrow.parquet as pq
import pytest

from tests.harness.burst import Burst
from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO

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
    source = stack.drop(key, orders_csv(25))
    run = stack.wait_for_sensor_run(source)

    assert run["status"] == "SUCCESS"
    container = stack.run_container(run["runId"])
    assert container.attrs["Config"]["Image"] == stack.code_location_images()["ingestion"]
    assert parquet_rows(stack, key) == 25

    assert [m["runId"] for m in stack.materializations(key)] == [run["runId"]]
    for check in CHECKS:
        executions = stack.query(CHECK_EXECUTIONS, {"check": check, "partition": key})["assetCheckExecutions"]
        assert executions and executions[0]["evaluation"]["success"], f"{check}: {executions}"

    landing = stack.s3()
    # Kept as processed/<key>/<etag>: a later drop under the key is kept beside it.
    processed = landing.get_object(Bucket=stack.settings["LANDING_BUCKET"], Key=f"processed/{key}/{source.rsplit('@', 1)[1]}")
    assert processed["Body"].read() == orders_csv(25)


def test_identical_reupload_is_archived_once_more_and_new_bytes_are_ingested_again(stack):
    key = unique_key("orders.csv")
    first = stack.drop(key, orders_csv(12))
    first_run = stack.wait_for_sensor_run(first)
    assert first_run["status"] == "SUCCESS"

    # The same bytes again leave landing (a re-drop never sits there forever) but are not ingested twice.
    landing = stack.settings["LANDING_BUCKET"]
    assert stack.drop(key, orders_csv(12)) == first
    wait_until(
        "the re-dropped copy to leave landing",
        lambda: stack.s3().list_objects_v2(Bucket=landing, Prefix=key).get("KeyCount", 0) == 0,
        timeout=120,
    )
    assert [m["runId"] for m in stack.materializations(key)] == [first_run["runId"]]

    second = stack.drop(key, orders_csv(14, first_id=500))
    assert second != first
    assert stack.wait_for_sensor_run(second)["status"] == "SUCCESS"
    assert parquet_rows(stack, key) == 14
    assert len(stack.materializations(key)) == 2


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


def test_a_burst_of_20_files_is_shared_out_over_a_few_runs_each_file_once(stack):
    burst = Burst.drop(stack, 20, rows=15, area="tests")
    burst.wait_processed(timeout=300)

    run_ids = burst.assert_exactly_once()
    runs = {run["runId"]: run["status"] for run in burst.runs()}
    assert set(run_ids) <= set(runs) and set(runs.values()) == {"SUCCESS"}
    # A run worker costs seconds to start: 20 files waiting at once do not get 20 of them.
    assert len(set(run_ids)) < 20, f"{len(set(run_ids))} runs for 20 files"
    for key in burst.keys:
        assert parquet_rows(stack, key) == 15
