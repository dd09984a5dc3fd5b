"""Ops of the storage report: list the buckets, summarize them, render and store a report."""

from collections import defaultdict
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field
from stack_markdown import inert_text

from analytics.resources import IOBucket
from stack_s3 import S3, iter_objects


class BucketsConfig(dg.Config):
    buckets: list[str] = Field(default=[], description="Buckets to report on; empty means every bucket.")


class ReportConfig(dg.Config):
    report_prefix: str = Field(default="reports/storage", description="Where in the IO-manager bucket to write.")
    top_prefixes: int = Field(default=10, description="Largest prefixes listed per bucket.")


@dg.op(description="Names of the buckets to report on.")
def choose_buckets(context: dg.OpExecutionContext, config: BucketsConfig, s3: S3) -> list[str]:
    names = config.buckets or [bucket["Name"] for bucket in s3.get_client().list_buckets().get("Buckets", [])]
    context.log.info(f"Reporting on {len(names)} bucket(s): {', '.join(names)}")
    return sorted(names)


@dg.op(description="Objects, bytes and newest object per top-level prefix of each bucket.")
def summarize_storage(buckets: list[str], s3: S3) -> dict:
    summary = {}
    for bucket in buckets:
        prefixes: dict[str, dict] = defaultdict(lambda: {"objects": 0, "bytes": 0, "newest": ""})
        for entry in iter_objects(s3.get_client(), bucket):
            prefix = entry["Key"].split("/", 1)[0] + "/" if "/" in entry["Key"] else "(root)"
            totals = prefixes[prefix]
            totals["objects"] += 1
            totals["bytes"] += entry["Size"]
            totals["newest"] = max(totals["newest"], entry["LastModified"].isoformat())
        summary[bucket] = dict(prefixes)
    return summary


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


@dg.op(description="A markdown report of the summary.")
def render_report(config: ReportConfig, summary: dict) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"# Storage report, {now}", ""]
    for bucket, prefixes in summary.items():
        objects = sum(p["objects"] for p in prefixes.values())
        size = sum(p["bytes"] for p in prefixes.values())
        # Bucket and prefix names come from whoever wrote the objects: shown as inert text.
        lines += [f"## {inert_text(bucket)}: {objects} objects, {_size(size)}", ""]
        if not prefixes:
            lines += ["_empty_", ""]
            continue
        lines += ["| prefix | objects | size | newest |", "| --- | ---: | ---: | --- |"]
        largest = sorted(prefixes.items(), key=lambda item: -item[1]["bytes"])[: config.top_prefixes]
        lines += [f"| {inert_text(name)} | {p['objects']} | {_size(p['bytes'])} | {p['newest']} |" for name, p in largest]
        lines.append("")
    return "\n".join(lines)


@dg.op(description="Stores the report as `<report_prefix>/<run date>.md` and `<report_prefix>/latest.md`.")
def write_report(
    context: dg.OpExecutionContext, config: ReportConfig, report: str, io_bucket: IOBucket
) -> dg.Output[str]:
    prefix = config.report_prefix.strip("/")
    dated = io_bucket.put_text(f"{prefix}/{datetime.now(UTC):%Y-%m-%d}.md", report, "text/markdown")
    latest = io_bucket.put_text(f"{prefix}/latest.md", report, "text/markdown")
    context.log.info(f"Wrote {dated} and {latest}")
    return dg.Output(latest, metadata={"report": dg.MetadataValue.md(report), "uri": dg.MetadataValue.path(dated)})
