"""`make bench`: what users feel, measured on a stack of its own.

Phases: (optional) a no-cache image build; cold `up` to all healthy; GraphQL launch -> SUCCESS;
file drop -> sensor run SUCCESS; one large file (500 MB, its run's time in F and MB/s); a burst
of drops (wall time, runs/s, exactly-once); idle memory
per service; image sizes. Prints a table and writes report.json and report.md. It asserts nothing
about speed: a phase fails only if the stack misbehaves (a run fails, a file is missed or doubled).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import docker

from tests.harness.burst import Burst
from tests.harness.code_edits import asset_names, make, new_asset
from tests.harness.orders import orders_csv, write_orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import BENCH_STACK, REPO
from tests.harness.stack import Stack


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
        # Times measured end here, as Dagster records it (containers share the host's clock), not
        # when the bench's next poll, up to half a second later, notices it.
        "end_time": run["endTime"],
    }


def launches(stack: Stack, count: int) -> dict:
    durations, breakdowns = [], []
    for i in range(count):
        progress(f"GraphQL launch {i + 1}/{count}")
        submitted = time.time()
        run_id = stack.launch("diagnostics", "smoke_job")
        status = stack.wait_for_run(run_id, timeout=180)
        if status != "SUCCESS":
            raise RuntimeError(f"smoke_job run {run_id} ended {status}")
        breakdowns.append(run_breakdown(stack, run_id))
        durations.append(breakdowns[-1]["end_time"] - submitted)
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
        key, uploaded_at = f"{prefix}/orders-{i}.csv", time.time()
        run = stack.wait_for_sensor_run(stack.drop(key, orders_csv(20, 100 * i)), timeout=180)
        if run["status"] != "SUCCESS":
            raise RuntimeError(f"drop run {run['runId']} ended {run['status']}")
        durations.append(run["endTime"] - uploaded_at)
        sensor_lags.append(run["creationTime"] - uploaded_at)
        breakdowns.append(run_breakdown(stack, run["runId"]))
        # Each file is dropped on an idle stack: once automation has loaded the last one into the
        # warehouse (its run would otherwise share the CPU with the next drop's).
        wait_until("the file in the warehouse", lambda key=key: stack.materializations(key, ("warehouse", "orders")), 120, 1)
        stack.wait_until_idle()
    return {
        **summary(durations),
        "median_upload_to_run_created_s": round(statistics.median(sensor_lags), 2),
        "median_queued_to_started_s": round(statistics.median(b["queued_to_started_s"] for b in breakdowns), 2),
        "median_started_to_finished_s": round(statistics.median(b["started_to_finished_s"] for b in breakdowns), 2),
    }


def large_file(stack: Stack, megabytes: float) -> dict:
    """One valid file of unique order ids, dropped on an idle stack: how long its ingestion run takes
    (started -> finished), and what that is per MB. Its memory bound is test_large_files.py's."""
    progress(f"large file: {megabytes} MB")
    key, s3 = f"bench/large-{uuid.uuid4().hex[:8]}.csv", stack.s3()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "large.csv"
        rows = write_orders_csv(path, int(megabytes * 10**6))
        size = path.stat().st_size
        s3.upload_file(str(path), stack.settings["LANDING_BUCKET"], key)
    etag = s3.head_object(Bucket=stack.settings["LANDING_BUCKET"], Key=key)["ETag"].strip('"')
    run = stack.wait_for_sensor_run(f"{key}@{etag}", timeout=1800)
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"large-file run {run['runId']} ended {run['status']}")
    seconds = run_breakdown(stack, run["runId"])["started_to_finished_s"]
    stack.wait_until_idle()
    return {"mb": round(size / 1e6, 1), "rows": rows, "run_s": round(seconds, 1), "mb_per_s": round(size / 1e6 / seconds, 2)}


def storage_bytes(stack: Stack) -> dict[str, int]:
    """What the stack stores: Dagster's Postgres database and each bucket, in bytes."""
    sizes = {"postgres": int(stack.psql("SELECT pg_database_size(current_database())"))}
    for variable in ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET"):
        sizes[stack.settings[variable]] = sum(o["Size"] for o in stack.objects(variable))
    return sizes


def burst(stack: Stack, count: int) -> dict:
    before = storage_bytes(stack)
    progress(f"burst: uploading {count} files at once")
    dropped = Burst.drop(stack, count, area="bench")
    wall = dropped.wait_processed(timeout=60 + 10 * count)
    stack.wait_until_idle()  # the warehouse's automation runs are part of what a file costs
    after = storage_bytes(stack)
    growth = {name: round((after[name] - before[name]) / count * 1000 / 2**20, 1) for name in after}
    run_ids = dropped.assert_exactly_once()
    statuses = {run["runId"]: run["status"] for run in dropped.runs()}
    if set(statuses.values()) != {"SUCCESS"}:
        raise RuntimeError(f"burst runs did not all succeed: {statuses}")
    return {
        "files": count,
        "wall_s": round(wall, 1),
        "files_per_s": round(count / wall, 2),
        "runs": len(statuses),
        "runs_that_materialized": len(set(run_ids)),
        "exactly_once": True,
        "storage_growth_mib_per_1000_files": growth,
    }


def worker_floor_samples(stack: Stack, samples: int = 5) -> list[float]:
    """Times of a fresh run worker doing nothing but `import dagster`, in the ingestion image. F,
    their median over the whole run, is what every other time is also given as a multiple of."""
    image = stack.code_location_images()["ingestion"]
    times = []
    for _ in range(samples):
        started = time.monotonic()
        subprocess.run(["docker", "run", "--rm", image, "python", "-c", "import dagster"], check=True, capture_output=True)
        times.append(round(time.monotonic() - started, 2))
    return times


def users_services(stack: Stack, test_only: bool = False) -> list:
    """The bench stack's running service containers that a user's stack has too: the idle figures
    leave out the diagnostics location, which only test stacks run (test_only: those instead)."""
    running = docker.from_env().containers.list(filters={"label": f"com.docker.compose.project={stack.project}"})
    return [container for container in running if (container.labels.get("dagster-stack/test-only") == "true") == test_only]


def cpu_seconds(stack: Stack, test_only: bool = False) -> dict[str, float]:
    """CPU time used so far by each service's container (its cgroup: healthchecks included)."""
    used = {}
    for container in users_services(stack, test_only):
        stats = container.stats(stream=False, one_shot=True)  # at once, not after a second sample
        used[container.labels["com.docker.compose.service"]] = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    return used


# The Docker engine's own processes, as /proc names them (truncated to 15 characters).
ENGINE_PROCESSES = {"dockerd", "containerd", "containerd-shim"}


def engine_cpu_seconds() -> float | None:
    """CPU time used so far by the Docker engine on this host: dockerd, containerd and the shims,
    with the `runc` each health probe's `docker exec` starts and they reap. None when the engine
    runs elsewhere (in a VM). It is the engine's work for every container on the host."""
    ticks, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name in ENGINE_PROCESSES:
            found = True
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def host_busy_seconds() -> float | None:
    """CPU time this host has been busy (user, nice, system, irq, softirq; not idle, I/O wait or
    what the hypervisor stole), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def idle_cpu(stack: Stack, seconds: int, settle_seconds: int = 15) -> dict:
    progress(f"idle CPU: {settle_seconds} s to settle, then the stack's services over {seconds} s")
    # Letting the last runs' aftermath pass, then measuring an idle stack: nothing to poll for.
    time.sleep(settle_seconds)
    # Reading the services' cgroups takes seconds (Docker's API): they are rated over the time
    # between their readings, the engine and the host over the pause alone.
    before, test_only_before, services_started = cpu_seconds(stack), cpu_seconds(stack, test_only=True), time.monotonic()
    engine_before, host_before, started = engine_cpu_seconds(), host_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    engine_after, host_after, paused = engine_cpu_seconds(), host_busy_seconds(), time.monotonic() - started
    after, test_only_after = cpu_seconds(stack), cpu_seconds(stack, test_only=True)
    elapsed = time.monotonic() - services_started
    per_service = {name: round((after[name] - before.get(name, 0)) / elapsed, 3) for name in sorted(after)}
    engine = None if engine_before is None or engine_after is None else round((engine_after - engine_before) / paused, 3)
    # The engine's figure counts each probe's process twice: in the service's cgroup, and in the
    # shim that reaps it. The host's busy time counts everything once, the kernel's share too;
    # the test-only location's own CPU is taken out (on a dedicated machine, the rest is the stack).
    host = None
    if engine is not None and host_before is not None and host_after is not None:
        test_only = sum(test_only_after[name] - test_only_before.get(name, 0) for name in test_only_after) / elapsed
        host = round((host_after - host_before) / paused - test_only, 3)
    return {"per_service_cores": per_service, "total_cores": round(sum(per_service.values()), 3),
            "docker_engine_cores": engine, "host_cores": host}


def restart_up(stack: Stack) -> float:
    progress("up from stopped: stop, then up --wait (data kept)")
    stack.compose("stop")
    started = time.monotonic()
    stack.up()
    return round(time.monotonic() - started, 1)


def idle_memory(stack: Stack) -> dict:
    output = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"],
        check=True, capture_output=True, text=True,
    ).stdout
    per_service, measured = {}, {container.name for container in users_services(stack)}
    for line in output.splitlines():
        name, usage = line.split("\t")
        if name in measured:
            service = name.removeprefix(f"{stack.project}-").rsplit("-", 1)[0]
            per_service[service] = round(to_mib(usage.split("/")[0].strip()), 1)
    return {"per_service_mib": per_service, "total_mib": round(sum(per_service.values()), 1)}


def idle_with_monitoring(stack: Stack, seconds: int) -> dict:
    """Idle CPU and memory again with DAGSTER_METRICS=monitoring: the exporter, and Prometheus
    scraping it every 30 s (docs/operations.md); then both go and the proxy forgets them."""
    progress("idle with the monitoring profile: the metrics exporter and Prometheus scraping it")
    monitoring = {"DAGSTER_METRICS": "monitoring"}
    stack.deploy_script("build-images.sh", "prometheus", env=monitoring)
    stack.compose("up", "-d", "--no-build", "--no-deps", "proxy", "metrics", "prometheus", env=monitoring)
    try:
        stack.deploy_script("wait-healthy.py", "300", env=monitoring, timeout=330)
        # At least two scrapes fall in the window, however short the bench.
        return {"idle_cpu": idle_cpu(stack, max(seconds, 60)), "idle_memory": idle_memory(stack)}
    finally:
        stack.compose("rm", "--stop", "--force", "metrics", "prometheus", env=monitoring)
        stack.compose("up", "-d", "--no-build", "--no-deps", "proxy", env={"DAGSTER_METRICS": "off"})


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


def reload_and_dev_save(stack: Stack, samples: int, location: str = "diagnostics") -> dict:
    """Seconds from an edit to the UI showing the new definitions: with `make reload` (a new image
    and code server), and in dev mode (`make dev`: the folder is mounted, saving reloads it).
    Each is sampled `samples` times: one reload is too noisy to judge on a shared machine."""

    def edit_until_visible(then) -> float:
        with new_asset(location) as probe:
            started = time.monotonic()
            then()
            wait_until("the new asset in the UI", lambda: probe in asset_names(stack, location), timeout=300, interval=0.2)
            return round(time.monotonic() - started, 2)

    def make_ok(*arguments: str, **options) -> None:
        result = make(stack, *arguments, **options)
        assert result.returncode == 0, result.stdout + result.stderr

    reloads = []
    for sample in range(1, samples + 1):
        progress(f"make reload {sample}/{samples}: an edit until the UI shows it")
        reloads.append(edit_until_visible(lambda: make_ok("reload", f"LOCATION={location}", recompute_tag_of=location)))
        make_ok("reload", f"LOCATION={location}", recompute_tag_of=location)  # back to the bench's image
    progress(f"make dev: {samples} saves until the UI shows each")
    make_ok("dev")
    try:
        saves = [edit_until_visible(lambda: None) for _ in range(samples)]
    finally:
        make_ok("up")
    return {"reload": summary(reloads), "dev_save": summary(saves)}


def location_image(location: str):
    def size(m: dict) -> float:
        return next(mb for name, mb in m["image_sizes_mb"].items() if name.split(":")[0].endswith(f"/{location}"))
    return size


def idle_cores_with_engine(m: dict) -> float:
    """What the host pays for the idle stack, its engine's work included: the host's busy time;
    where the engine runs elsewhere (a VM), the services' cgroups plus what is seen of the engine."""
    idle = m["idle_cpu"]
    if idle.get("host_cores") is not None:
        return idle["host_cores"]
    return round(idle["total_cores"] + (idle["docker_engine_cores"] or 0), 3)


# The project's targets (issues 19 and 24; drop and launch are issue 10's figures, kept from
# regressing): metric -> (how to read it, limit, unit, limit is in F). Times are judged as
# multiples of F, measured in the same run, so machines compare honestly.
TARGETS = {
    "file drop -> SUCCESS p50": (lambda m: m["drop"]["p50_s"], 3, "s", True),
    "file drop -> SUCCESS p95": (lambda m: m["drop"]["p95_s"], 4, "s", True),
    "burst of files -> all ingested once": (lambda m: m["burst"]["wall_s"], 20, "s", True),
    "GraphQL launch -> SUCCESS p50": (lambda m: m["launch"]["p50_s"], 2.4, "s", True),
    "up from stopped -> all healthy": (lambda m: m["restart_up_s"], 8, "s", True),
    "idle CPU, services + Docker engine (the host's busy time)": (idle_cores_with_engine, 0.15, "cores", False),
    "idle memory, whole stack": (lambda m: m["idle_memory"]["total_mib"], 800, "MiB", False),
    "ingestion image": (location_image("ingestion"), 400, "MB", False),
    "analytics image": (location_image("analytics"), 450, "MB", False),
    "make reload: edit -> new definitions in the UI, p50": (lambda m: m["your_code"]["reload"]["p50_s"], 6, "s", True),
    "make dev: save -> new asset in the UI, p50": (lambda m: m["your_code"]["dev_save"]["p50_s"], 3, "s", True),
}


def verdicts(metrics: dict) -> list[tuple[str, ...]]:
    floor = metrics["worker_floor_s"]
    rows = []
    for name, (read, limit, unit, in_f) in TARGETS.items():
        value = read(metrics)
        measured, goal = f"{value} {unit}", f"≤ {limit} {unit}"
        if in_f:
            value, measured, goal = value / floor, f"{value} s = {value / floor:.2f} F", f"≤ {limit} F"
        verdict = "met" if value <= limit else f"missed by {(value - limit) / limit * 100:.0f}%"
        rows.append((name, measured, goal, verdict))
    return rows


def spread(samples: list[float]) -> str:
    return f"min {min(samples)} s, max {max(samples)} s"


def markdown(report: dict) -> str:
    m = report["metrics"]
    floor = m["worker_floor_s"]

    def timing(phase: dict) -> str:
        return "p50 {p50_s} s, p95 {p95_s} s, min {min_s} s, max {max_s} s (n={n})".format(**phase)

    details = [
        ("F: `docker run --rm <ingestion image> python -c 'import dagster'`, median of 5 at the start, "
         "5 after the idle figures and 5 at the end", f"{floor} s ({spread(m['worker_floor_samples_s'])})"),
        ("cold up (down -v, then up)", f"{m['cold_up_s']} s = {m['cold_up_s'] / floor:.1f} F"),
        ("GraphQL launch -> SUCCESS", timing(m["launch"])),
        ("  queued -> started / started -> finished (medians)",
         f"{m['launch']['median_queued_to_started_s']} s / {m['launch']['median_started_to_finished_s']} s"),
        ("file drop -> SUCCESS", timing(m["drop"])),
        ("  upload -> run created / queued -> started / started -> finished (medians)",
         "{median_upload_to_run_created_s} s / {median_queued_to_started_s} s / {median_started_to_finished_s} s".format(**m["drop"])),
        ("large file: ingestion run started -> finished",
         "{mb} MB ({rows} rows) in {run_s} s".format(**m["large_file"])
         + f" = {m['large_file']['run_s'] / floor:.1f} F, {m['large_file']['mb_per_s']} MB/s"),
        ("burst", "{files} files in {wall_s} s = {files_per_s} files/s; {runs} runs; each file materialized exactly once".format(**m["burst"])),
        ("make reload: edit -> new definitions in the UI", timing(m["your_code"]["reload"])),
        ("make dev: save -> new asset in the UI", timing(m["your_code"]["dev_save"])),
    ]
    details += [
        (f"storage growth per 1,000 files: {name}", f"{mib} MiB")
        for name, mib in m["burst"]["storage_growth_mib_per_1000_files"].items()
    ]
    if "rebuild_s" in m:
        details.insert(0, ("no-cache image build", f"{m['rebuild_s']} s"))
    details += [(f"idle CPU {name}", f"{cores} cores") for name, cores in m["idle_cpu"]["per_service_cores"].items()]
    details.append((
        "idle CPU of the Docker engine meanwhile (dockerd, containerd, shims, and the probes' processes they reap, "
        "which the services' figures count too)",
        f"{m['idle_cpu'].get('docker_engine_cores')} cores",
    ))
    details.append(("idle CPU, whole host (services, engine and kernel, each counted once)",
                    f"{m['idle_cpu'].get('host_cores')} cores"))
    details += [(f"idle memory {name}", f"{mib} MiB") for name, mib in m["idle_memory"]["per_service_mib"].items()]
    if "idle_cpu_after_drops" in m:
        soon = m["idle_cpu_after_drops"]
        details.append((
            "idle CPU 15 s after the drops: services + Docker engine; whole host",
            f"{soon['total_cores']} + {soon['docker_engine_cores']} cores; {soon.get('host_cores')} cores",
        ))
    if "memory_after_large_file" in m:
        after = m["memory_after_large_file"]
        details.append((
            "idle memory, whole stack, the idle time again after the large file's run",
            f"{after['total_mib']} MiB, of which the S3 store {after['per_service_mib'].get('minio')} MiB",
        ))
    if "idle_monitoring" in m:
        watched = m["idle_monitoring"]
        details += [
            ("idle CPU, whole stack, with DAGSTER_METRICS=monitoring", f"{watched['idle_cpu']['total_cores']} cores"),
            ("idle memory, whole stack, with DAGSTER_METRICS=monitoring", f"{watched['idle_memory']['total_mib']} MiB"),
        ]
        details += [
            (f"  of which {name}", f"{watched['idle_cpu']['per_service_cores'].get(name)} cores, {watched['idle_memory']['per_service_mib'].get(name)} MiB")
            for name in ("metrics", "prometheus")
        ]
    details += [(f"image {name}", f"{size} MB") for name, size in m["image_sizes_mb"].items()]
    lines = [f"# Dagster Stack benchmark ({report['mode']})", "", f"{report['date']} on {report['machine']}; F = {floor} s", ""]
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
    launches_n, drops_n, burst_n, idle_s, reload_n = (3, 3, 20, 10, 1) if args.quick else (10, 10, 300, 60, 5)
    large_mb = 5 if args.quick else 500

    stack = Stack.from_environment(BENCH_STACK)
    metrics: dict = {}
    try:
        if args.rebuild:
            metrics["rebuild_s"] = rebuild_images(stack)
        metrics["cold_up_s"] = cold_up(stack)
        # F is sampled at the start, the middle and the end: a shared machine's speed drifts over
        # a 15-minute run, and five samples in a row have spread from 0.75 to 1.17 s.
        floor_samples = worker_floor_samples(stack)
        metrics["restart_up_s"] = restart_up(stack)
        metrics["launch"] = launches(stack, launches_n)
        metrics["drop"] = drops(stack, drops_n)
        # Memory idle as issue 24's target was set: after the launches and drops. What a 500 MB
        # file leaves behind (the S3 store's heap and page cache) is reported apart, idle_s after.
        # CPU 15 s after the drops (as the issue measured it) is reported too, but the target is
        # judged on the CPU of a stack that has had nothing to do for minutes: what it pays all day.
        metrics["idle_cpu_after_drops"] = idle_cpu(stack, idle_s)
        metrics["idle_memory"] = idle_memory(stack)
        metrics["large_file"] = large_file(stack, large_mb)
        time.sleep(idle_s)
        metrics["memory_after_large_file"] = idle_memory(stack)
        metrics["idle_cpu"] = idle_cpu(stack, idle_s)
        metrics["idle_monitoring"] = idle_with_monitoring(stack, idle_s)
        floor_samples += worker_floor_samples(stack)
        metrics["burst"] = burst(stack, burst_n)
        metrics["image_sizes_mb"] = image_sizes(stack)
        metrics["your_code"] = reload_and_dev_save(stack, reload_n)
        floor_samples += worker_floor_samples(stack)
        metrics["worker_floor_samples_s"] = floor_samples
        metrics["worker_floor_s"] = round(statistics.median(floor_samples), 2)
    except Exception:
        print(stack.diagnostics(), file=sys.stderr)
        # What was measured before the failure is still worth having: a full run takes 15 minutes.
        print("measured before the failure:", json.dumps(metrics, indent=2), file=sys.stderr)
        raise
    finally:
        stack.down()

    report = {
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
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
