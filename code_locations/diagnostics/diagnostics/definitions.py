import dagster as dg

from diagnostics.jobs import hold_job, smoke_job

defs = dg.Definitions(
    jobs=[smoke_job, hold_job],
    # One process per run, outputs kept in its memory: these jobs test the deployment's path
    # (queue, launcher, worker, compute logs), not a storage of their own.
    executor=dg.in_process_executor,
    resources={"io_manager": dg.mem_io_manager},
)
