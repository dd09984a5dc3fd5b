"""Jobs that exercise the deployment itself: a run worker's output path and its cancellation.
They live in a location the test, fault and bench stacks add (code_locations/diagnostics/compose.yml),
never in a user's stack."""

import sys
import time

import dagster as dg


class HoldConfig(dg.Config):
    seconds: int = 600


@dg.op
def report_worker(context: dg.OpExecutionContext) -> str:
    # Both streams end up in the compute-log bucket; the stack's tests look for these lines.
    print("diagnostics: stdout from the run worker")
    print("diagnostics: stderr from the run worker", file=sys.stderr)
    context.log.info("run worker is alive")
    return "alive"


@dg.op
def hold(context: dg.OpExecutionContext, config: HoldConfig, status: str) -> None:
    """Keeps the run busy so cancellation and run monitoring can be observed."""
    context.log.info(f"worker {status}; holding for {config.seconds} s")
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        time.sleep(1)


@dg.job(description="Prints to stdout and stderr from a run worker and finishes.")
def smoke_job():
    report_worker()


@dg.job(description="Holds a run worker busy for `seconds` (default 600); cancel it to test termination.")
def hold_job():
    hold(report_worker())
