"""A burst of file drops under one prefix, and the proof that each file was processed exactly once.
Used by the fault suite, the integration tests and the benchmark."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.harness.orders import orders_csv
from tests.harness.polling import wait_until
from tests.harness.stack import TERMINAL_RUN_STATUSES


@dataclass
class Burst:
    stack: object
    prefix: str
    keys: list[str]
    started: float  # monotonic, for wall times
    since: float  # epoch, to find the burst's runs

    @classmethod
    def drop(cls, stack, files: int, rows: int = 20, area: str = "faults") -> "Burst":
        """Uploads `files` small orders CSVs at once, as a batch job dropping its exports would."""
        prefix = f"{area}/{uuid.uuid4().hex[:8]}"
        keys = [f"{prefix}/orders-{i:03d}.csv" for i in range(files)]
        s3 = stack.s3()
        since, started = time.time() - 1, time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: stack.drop(keys[i], orders_csv(rows, first_id=1000 * i), s3), range(files)))
        return cls(stack, prefix, keys, started, since)

    def _count(self, prefix: str) -> int:
        pages = self.stack.s3().get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.settings["LANDING_BUCKET"], Prefix=prefix
        )
        return sum(page.get("KeyCount", 0) for page in pages)

    def runs(self) -> list[dict]:
        """The landing sensor's runs since the burst was dropped."""
        return self.stack.sensor_runs_since(self.since)

    def wait_processed(self, timeout: float) -> float:
        """Waits until every file sits in processed/, none is left in landing and every run has
        finished; returns the wall time from the first upload."""
        wait_until(
            f"all {len(self.keys)} files of {self.prefix} processed",
            lambda: self._count(f"processed/{self.prefix}/") == len(self.keys) and self._count(self.prefix) == 0,
            timeout,
            interval=1,
        )
        wait_until(
            f"every run of {self.prefix} to finish",
            lambda: all(run["status"] in TERMINAL_RUN_STATUSES for run in self.runs()),
            timeout=120,
            interval=1,
        )
        return time.monotonic() - self.started

    def assert_exactly_once(self) -> list[str]:
        """Each file's partition was materialized exactly once: no file missed, none done twice.
        Judged by materializations, not run tags: a daemon killed while creating a run can leave
        the run without its tags, and the restarted daemon launches that same run. Returns the
        ids of the runs that materialized them."""
        run_ids = []
        for key in self.keys:
            materializations = self.stack.materializations(key)
            assert len(materializations) == 1, f"{key}: materialized {len(materializations)} times"
            run_ids.append(materializations[0]["runId"])
        return run_ids
