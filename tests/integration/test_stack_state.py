"""State survives what operators do to it: a backup restored into a fresh database brings the
run history back. (Named to run last: it replaces the test stack's database.)"""

import re
from pathlib import Path

from tests.harness.polling import wait_until

RUN_IDS = "{ runsOrError { ... on Runs { results { runId status } } } }"


def test_backup_restores_into_a_fresh_database(stack):
    run_id = stack.launch("diagnostics", "smoke_job")
    assert stack.wait_for_run(run_id) == "SUCCESS"
    stack.wait_until_idle()  # a run in flight during the backup would end differently after it
    before = {run["runId"]: run["status"] for run in stack.query(RUN_IDS)["runsOrError"]["results"]}
    events_before = stack.psql("SELECT count(*) FROM event_logs")

    backup = stack.deploy_script("backup.sh")
    dump, *others = [Path(path) for path in re.findall(r"Wrote (\S+\.dump)", backup.stdout)]
    try:
        assert "the S3 volume" in backup.stdout, "the backup should say what else holds state"
        stack.compose("stop", "webserver", "daemon")
        stack.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        assert stack.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"

        stack.deploy_script("restore.sh", str(dump), env={"YES": "1"})

        stack.assert_isolated()
        # The restarted webserver may have a new address, which the proxy learns within seconds.
        runs = wait_until("the UI to answer after the restore", lambda: stack.answer(RUN_IDS), timeout=60)
        after = {run["runId"]: run["status"] for run in runs["runsOrError"]["results"]}
        # Every run and event is back; the restarted daemon may already have added to them.
        assert {run: after.get(run) for run in before} == before
        assert after[run_id] == "SUCCESS"
        assert int(stack.psql("SELECT count(*) FROM event_logs")) >= int(events_before)
    finally:
        for path in (dump, *others):
            path.unlink(missing_ok=True)
