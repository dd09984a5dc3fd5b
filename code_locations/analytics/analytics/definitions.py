import dagster as dg

from analytics.diagnostics import hold_job, smoke_job

defs = dg.Definitions(jobs=[smoke_job, hold_job])
