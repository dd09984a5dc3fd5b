"""Finished run containers are removed once older than the retention period, and only those."""

from tests.harness.polling import wait_until


def test_janitor_removes_finished_run_containers_past_retention(stack):
    run_id = stack.launch("diagnostics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    # The run reports SUCCESS a moment before its process, and so its container, exits.
    wait_until("the run's container to exit", lambda: stack.run_container(run_id).status == "exited", timeout=30)

    kept = stack.compose("exec", "-T", "run-janitor", "python", "/opt/dagster/deploy/run-janitor.py", "--once")
    assert "removed 0 " in kept.stdout, "the default retention keeps a run that just finished"
    assert stack.run_container(run_id) is not None

    pruned = stack.compose(
        "exec", "-T", "-e", "RUN_CONTAINER_RETENTION_HOURS=0", "run-janitor",
        "python", "/opt/dagster/deploy/run-janitor.py", "--once",
    )
    assert "removed" in pruned.stdout
    assert stack.run_container(run_id) is None
