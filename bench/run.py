"""`make bench`: what users feel, measured on a stack of its own.

Phases: (optional) a no-cache image build; cold `up` to all healthy; GraphQL launch -> SUCCESS;
file drop -> sensor run SUCCESS; a burst of drops (wall time, runs/s, exactly-once); idle memory
per service; image sizes. Prints a table and writes report.json and report.md. It asserts nothing
about speed: a phase fails only if the stack misbehaves (a run fails, a file is missed or doubled).
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from tests.integration.orders import orders_csv
from tests.integration.stack import REPO, Stack
from tests.polling import wait_until

BENCH_ENV_FILES = {
    "STACK_ENV": str(REPO / ".stack" / "bench.env"),
    "STACK_ENV_OVERRIDES": str(REPO / "bench" / "stack.env"),
}


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 2),
        "p95_s": round(percentile(values, 0.95), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


def rebuild_images(stack: Stack) -> float:
    progress("no-cache build of every image (this takes minutes)")
    started = time.monotonic()
    stack.compose("build", "--no-cache", "webserver", timeout=1800)
    services = [name for name in stack.config()["services"] if name.startswith("code-")]
    stack.compose("build", "--no-cache", *services, timeout=1800)
    return round(time.monotonic() - started, 1)


def cold_up(stack: Stack) -> float:
    progress("cold start: down -v, then up --wait")
    stack.down()
    started = time.monotonic()
    stack.up()
    return round(time.monotonic() - started, 1)


def run_breakdown(stack: Stack, run_id: str) -> dict:
    run = stack.query(
        "query ($id: ID!) { runOrError(runId: $id) { ... on Run { creationTime startTime endTime } } }",
        {"id": run_id},
    )["runOrError"]
    return {
        "queued_to_started_s": run["startTime"] - run["creationTime"],
        "started_to_finished_s": run["endTime"] - run["startTime"],
    }


def launches(stack: Stack, count: int) -> dict:
    durations, breakdowns = [], []
    for i in range(count):
        progress(f"GraphQL launch {i + 1}/{count}")
        started = time.monotonic()
        run_id = stack.launch("analytics", "smoke_job")
        status = stack.wait_for_run(run_id, timeout=180)
        if status != "SUCCESS":
            raise RuntimeError(f"smoke_job run {run_id} ended {status}")
        durations.append(time.monotonic() - started)
        breakdowns.append(run_breakdown(stack, run_id))
    return {
        **summary(durations),
        "median_queued_to_started_s": round(statistics.median(b["queued_to_started_s"] for b in breakdowns), 2),
        "median_started_to_finished_s": round(statistics.median(b["started_to_finished_s"] for b in breakdowns), 2),
    }


def drops(stack: Stack, count: int) -> dict:
    durations, sensor_lags, breakdowns = [], [], []
    prefix = f"bench/single-{uuid.uuid4().hex[:8]}"
    for i in range(count):
        progress(f"file drop {i + 1}/{count}")
        started, uploaded_at = time.monotonic(), time.time()
        run = stack.wait_for_sensor_run(stack.drop(f"{prefix}/orders-{i}.csv", orders_csv(20, 100 * i)), timeout=180)
        if run["status"] != "SUCCESS":
            raise RuntimeError(f"drop run {run['runId']} ended {run['status']}")
        durations.append(time.monotonic() - started)
        sensor_lags.append(run["creationTime"] - uploaded_at)
        breakdowns.append(run_breakdown(stack, run["runId"]))
    return {
        **summary(durations),
        "median_upload_to_run_created_s": round(statistics.median(sensor_lags), 2),
        "median_queued_to_started_s": round(statistics.median(b["queued_to_started_s"] for b in breakdowns), 2),
        "median_started_to_finished_s": round(statistics.median(b["started_to_finished_s"] for b in breakdowns), 2),
    }


SENSOR_RUNS_SINCE = """
query ($after: Float!) {
  runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: "landing_sensor"}], createdAfter: $after}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def sensor_runs_by_key(stack: Stack, since: float) -> dict[str, list[str]]:
    """Run key -> statuses of the landing sensor's runs created since `since`, in one query."""
    by_key: dict[str, list[str]] = {}
    for run in stack.query(SENSOR_RUNS_SINCE, {"after": since})["runsOrError"]["results"]:
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        by_key.setdefault(tags.get("dagster/run_key", ""), []).append(run["status"])
    return by_key


def burst(stack: Stack, count: int) -> dict:
    prefix = f"bench/burst-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}/orders-{i:04d}.csv" for i in range(count)]
    progress(f"burst: uploading {count} files at once")
    since = time.time() - 1
    s3 = stack.s3()  # one client for all threads: boto3 cannot create clients concurrently
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        run_keys = list(pool.map(lambda item: stack.drop(item[1], orders_csv(20, 100 * item[0]), s3), enumerate(keys)))

    def all_succeeded():
        by_key = sensor_runs_by_key(stack, since)
        statuses = [by_key.get(run_key, ["NOT STARTED"])[0] for run_key in run_keys]
        if "FAILURE" in statuses or "CANCELED" in statuses:
            raise RuntimeError(f"burst runs did not all succeed: {statuses}")
        progress(f"burst: {statuses.count('SUCCESS')}/{count} runs succeeded")
        return by_key if statuses.count("SUCCESS") == count else None

    by_key = wait_until(f"{count} burst runs to succeed", all_succeeded, timeout=60 + 10 * count, interval=2)
    wall = time.monotonic() - started
    s3 = stack.s3()
    bucket = stack.settings["IO_MANAGER_BUCKET"]
    outputs = sum(
        s3.list_objects_v2(Bucket=bucket, Prefix=f"ingestion/orders/{key}.parquet").get("KeyCount", 0) for key in keys
    )
    runs = sum(len(by_key[run_key]) for run_key in run_keys)
    exactly_once = outputs == count and runs == count
    if not exactly_once:
        raise RuntimeError(f"burst broke exactly-once: {runs} runs and {outputs} outputs for {count} files")
    return {
        "files": count,
        "wall_s": round(wall, 1),
        "runs_per_s": round(count / wall, 2),
        "runs": runs,
        "duplicate_runs": runs - count,
        "outputs_present": outputs,
        "exactly_once": exactly_once,
    }


def idle_memory(stack: Stack, settle_seconds: int) -> dict:
    progress(f"letting the stack settle for {settle_seconds} s before reading memory")
    time.sleep(settle_seconds)  # settling is the point here: nothing to poll for
    output = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"],
        check=True, capture_output=True, text=True,
    ).stdout
    per_service = {}
    for line in output.splitlines():
        name, usage = line.split("\t")
        if name.startswith(f"{stack.project}-"):
            service = name.removeprefix(f"{stack.project}-").rsplit("-", 1)[0]
            per_service[service] = round(to_mib(usage.split("/")[0].strip()), 1)
    return {"per_service_mib": per_service, "total_mib": round(sum(per_service.values()), 1)}


def to_mib(value: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if value.endswith(unit):
            return float(value.removesuffix(unit)) * factor
    raise ValueError(value)


def image_sizes(stack: Stack) -> dict:
    sizes = {}
    for image in sorted(set(stack.compose("config", "--images").stdout.split())):
        inspected = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True
        )
        if inspected.returncode == 0:
            sizes[image] = round(int(inspected.stdout) / 1e6)
    return sizes


# The project's targets (issue 5): metric -> (how to read it from the metrics, limit, unit, higher is better).
TARGETS = {
    "file drop -> SUCCESS p50": (lambda m: m["drop"]["p50_s"], 6, "s", False),
    "file drop -> SUCCESS p95": (lambda m: m["drop"]["p95_s"], 10, "s", False),
    "GraphQL launch -> SUCCESS p50": (lambda m: m["launch"]["p50_s"], 3.5, "s", False),
    "burst throughput": (lambda m: m["burst"]["runs_per_s"], 0.6, "runs/s", True),
    "cold up -> all healthy": (lambda m: m["cold_up_s"], 15, "s", False),
    "idle memory, whole stack": (lambda m: m["idle_memory"]["total_mib"], 700, "MiB", False),
    "largest code-location image": (
        lambda m: max(size for name, size in m["image_sizes_mb"].items() if name.split(":")[0].endswith(("ingestion", "analytics"))),
        400, "MB", False,
    ),
}


def verdicts(metrics: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, (read, limit, unit, higher_is_better) in TARGETS.items():
        value = read(metrics)
        met = value >= limit if higher_is_better else value <= limit
        gap = abs(value - limit) / limit * 100
        verdict = "met" if met else f"missed by {gap:.0f}%"
        rows.append((name, f"{value} {unit}", f"{'≥' if higher_is_better else '≤'} {limit} {unit}", verdict))
    return rows


def markdown(report: dict) -> str:
    m = report["metrics"]
    details = [
        ("GraphQL launch -> SUCCESS", "p50 {p50_s} s, p95 {p95_s} s, min {min_s} s, max {max_s} s (n={n})".format(**m["launch"])),
        ("  queued -> started / started -> finished (medians)",
         f"{m['launch']['median_queued_to_started_s']} s / {m['launch']['median_started_to_finished_s']} s"),
        ("file drop -> SUCCESS", "p50 {p50_s} s, p95 {p95_s} s, min {min_s} s, max {max_s} s (n={n})".format(**m["drop"])),
        ("  upload -> run created / queued -> started / started -> finished (medians)",
         "{median_upload_to_run_created_s} s / {median_queued_to_started_s} s / {median_started_to_finished_s} s".format(**m["drop"])),
        ("burst", "{files} files in {wall_s} s = {runs_per_s} runs/s; runs {runs}, duplicates {duplicate_runs}, "
         "outputs {outputs_present}: exactly once {exactly_once}".format(**m["burst"])),
    ]
    if "rebuild_s" in m:
        details.insert(0, ("no-cache image build", f"{m['rebuild_s']} s"))
    details += [(f"idle memory {name}", f"{mib} MiB") for name, mib in m["idle_memory"]["per_service_mib"].items()]
    details += [(f"image {name}", f"{size} MB") for name, size in m["image_sizes_mb"].items()]
    lines = [f"# Dagster Stack benchmark ({report['mode']})", "", f"{report['date']} on {report['machine']}", ""]
    lines += ["| target | measured | goal | verdict |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in verdicts(m)]
    lines += ["", "| detail | value |", "|---|---|"] + [f"| {name} | {value} |" for name, value in details]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke test of the harness")
    parser.add_argument("--rebuild", action="store_true", help="also time a full no-cache image build")
    parser.add_argument("--out", default=str(REPO / "bench-results"))
    args = parser.parse_args()
    launches_n, drops_n, burst_n, settle = (3, 3, 10, 5) if args.quick else (10, 10, 100, 30)

    stack = Stack.from_files(BENCH_ENV_FILES)
    metrics: dict = {}
    try:
        if args.rebuild:
            metrics["rebuild_s"] = rebuild_images(stack)
        metrics["cold_up_s"] = cold_up(stack)
        metrics["launch"] = launches(stack, launches_n)
        metrics["drop"] = drops(stack, drops_n)
        metrics["burst"] = burst(stack, burst_n)
        metrics["idle_memory"] = idle_memory(stack, settle)
        metrics["image_sizes_mb"] = image_sizes(stack)
    except Exception:
        print(stack.diagnostics(), file=sys.stderr)
        raise
    finally:
        stack.down()

    report = {
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {__import__('os').cpu_count()} cores",
        "metrics": metrics,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    print(markdown(report))
    print(f"Wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
