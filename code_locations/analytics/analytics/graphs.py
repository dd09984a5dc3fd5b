import dagster as dg

from analytics.ops import choose_buckets, render_report, summarize_storage, write_report


@dg.graph(description="Lists the stack's buckets and writes a markdown storage report to the IO-manager bucket.")
def storage_report():
    write_report(render_report(summarize_storage(choose_buckets())))
