"""A burst of file drops under one prefix, and the proof that each file was processed exactly once."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.integration.orders import orders_csv
from tests.integration.stack import TERMINAL_RUN_STATUSES
from tests.polling import wait_until


@dataclass
class Burst:
    stack: object
    prefix: str
    run_keys: list[str]
    started: float

    @classmethod
    def drop(cls, stack, files: int, rows: int = 20) -> "Burst":
        """Uploads `files` small orders CSVs at once, as a batch job dropping its exports would."""
        prefix = f"faults/{uuid.uuid4().hex[:8]}"
        s3 = stack.s3()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            run_keys = list(
                pool.map(
                    lambda i: stack.drop(f"{prefix}/orders-{i:03d}.csv", orders_csv(rows, first_id=1000 * i), s3),
                    range(files),
                )
            )
        return cls(stack, prefix, run_keys, started)

    def _count(self, prefix: str) -> int:
        pages = self.stack.s3().get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.settings["LANDING_BUCKET"], Prefix=prefix
        )
        return sum(page.get("KeyCount", 0) for page in pages)

    def _statuses(self) -> dict[str, list[str]]:
        return {key: sorted(r["status"] for r in self.stack.runs_tagged("dagster/run_key", key)) for key in self.run_keys}

    def wait_processed(self, timeout: float) -> float:
        """Waits until every file sits in processed/, none is left in landing and every run has
        finished; returns the wall time from the first upload."""
        wait_until(
            f"all {len(self.run_keys)} files of {self.prefix} processed",
            lambda: self._count(f"processed/{self.prefix}/") == len(self.run_keys) and self._count(self.prefix) == 0,
            timeout,
            interval=2,
        )
        wait_until(
            f"every run of {self.prefix} to finish",
            lambda: all(set(s) <= TERMINAL_RUN_STATUSES for s in self._statuses().values()),
            timeout=120,
            interval=2,
        )
        return time.monotonic() - self.started

    def assert_exactly_once(self) -> None:
        """Each file's partition was materialized exactly once: no file missed, none done twice.
        Judged by materializations, not run tags: a daemon killed while creating a run can leave
        the run without its tags, and the restarted daemon launches that same run."""
        for run_key in self.run_keys:
            key = run_key.rpartition("@")[0]
            materializations = self.stack.materializations(key)
            assert len(materializations) == 1, f"{key}: materialized {len(materializations)} times"
