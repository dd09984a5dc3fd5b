"""Alerts to the people running the stack (lib/stack_alerts: webhook and/or e-mail, ALERT_* in
.env): a failed run of any location, a sensor or schedule that starts failing (and recovers), a
quarantined file, and ingested files the warehouse has not loaded within its promise. Each is
sent once, not once per tick: what was told is kept in the sensors' cursors. Off while no
channel is configured. Here rather than in a location of their own, which would cost a code server."""

import json
import os
import time

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from stack_alerts import Alert, Channels
from stack_contract import ERROR_REPORT_SUFFIX, QUARANTINE_PREFIX, not_in_warehouse

from ingestion.resources import LandingZone
from stack_s3 import iter_objects

OPERATIONS_INTERVAL_SECONDS = 60
# How long an ingested file may wait for the warehouse before someone is told.
WAREHOUSE_LAG_MINUTES = float(os.environ.get("ALERT_WAREHOUSE_LAG_MINUTES") or 15)
MAX_ERROR_CHARS = 1500
MAX_FILES_LISTED = 10
OFF = "Alerting is off: set ALERT_WEBHOOK_URL, or ALERT_SMTP_HOST and ALERT_EMAIL_TO, in .env."


@dg.run_failure_sensor(
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Tells people (webhook, e-mail) about every failed run in any code location, with its errors and a link.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    channels = Channels.from_environment()
    if not channels.enabled:
        return
    run = context.dagster_run
    errors = [event.event_specific_data.error.message.strip() for event in context.get_step_failure_events()]
    details = "\n".join(errors) or context.failure_event.message or "no error recorded"
    channels.deliver(
        Alert(
            subject=f"Run failed: {run.job_name} in {run.remote_job_origin.location_name if run.remote_job_origin else '?'} ({run.run_id})",
            details=details[:MAX_ERROR_CHARS],
            link=channels.link(f"/runs/{run.run_id}"),
        )
    )


def failing_instigators(instance: dg.DagsterInstance, own_name: str) -> dict[str, str]:
    """Sensors and schedules whose latest tick failed: name -> its error's first line."""
    failing = {}
    for state in instance.all_instigator_state():
        if state.instigator_name == own_name or state.instigator_type not in (InstigatorType.SENSOR, InstigatorType.SCHEDULE):
            continue
        latest = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if latest and latest[0].status == TickStatus.FAILURE:
            message = latest[0].error.message if latest[0].error else "no error recorded"
            failing[state.instigator_name] = message.strip().splitlines()[0][:MAX_ERROR_CHARS] if message.strip() else message
    return failing


def new_quarantine_reports(landing: LandingZone, after: float, seen: list[str]) -> list[tuple[float, str, str, str]]:
    """(time, report key, file, problem) of each quarantine report written since `after` (epoch
    seconds; S3 times are whole seconds, so `seen` are the reports already told of at `after`)."""
    found = []
    for entry in iter_objects(landing.client(), landing.bucket, QUARANTINE_PREFIX):
        written, key = entry["LastModified"].timestamp(), entry["Key"]
        if key.endswith(ERROR_REPORT_SUFFIX) and written >= after and key not in seen:
            report = json.loads(landing.client().get_object(Bucket=landing.bucket, Key=key)["Body"].read())
            found.append((written, key, str(report.get("file", key)), str(report.get("message") or report.get("problem", ""))))
    return sorted(found)


def next_mark(mark: float, seen: list[str], reports: list[tuple[float, str, str, str]]) -> list:
    """The newest report time told of, with the reports of that very second."""
    if not reports:
        return [mark, seen]
    newest = reports[-1][0]
    return [newest, [key for written, key, _, _ in reports if written == newest] + (seen if newest == mark else [])]


def listed(lines: list[str]) -> str:
    shown = lines[:MAX_FILES_LISTED]
    return "\n".join(shown + ([f"... and {len(lines) - len(shown)} more"] if len(lines) > len(shown) else []))


@dg.sensor(
    minimum_interval_seconds=OPERATIONS_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Tells people (webhook, e-mail) when a sensor or schedule starts failing or recovers, when files "
        "are quarantined, and when ingested files wait longer than ALERT_WAREHOUSE_LAG_MINUTES for the warehouse."
    ),
)
def operations_alerts(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SkipReason:
    channels = Channels.from_environment()
    now = time.time()
    if not channels.enabled:
        return dg.SkipReason(OFF)
    # The first look only notes the quarantine reports already there: history, not news.
    first_look = not context.cursor
    told = json.loads(context.cursor) if context.cursor else {"failing": {}, "quarantine_mark": [int(now), []], "lagging": {}}
    alerts: list[Alert] = []

    failing = failing_instigators(context.instance, context.sensor_name)
    for name in sorted(failing.keys() - told["failing"].keys()):
        alerts.append(Alert(f"{name} is failing", failing[name], channels.link("/overview/automation")))
    for name in sorted(told["failing"].keys() - failing.keys()):
        alerts.append(Alert(f"{name} recovered", "Its latest tick succeeded."))

    mark, seen = told["quarantine_mark"]
    reports = new_quarantine_reports(landing, mark, seen)
    if reports and not first_look:
        alerts.append(Alert(
            f"{len(reports)} file(s) quarantined",
            listed([f"{file}: {problem}" for _, _, file, problem in reports]),
            channels.link("/assets/ingestion/orders"),
        ))

    lagging = {key: told["lagging"].get(key, [now, False]) for key in not_in_warehouse(context.instance)}
    overdue = sorted(key for key, (since, alerted) in lagging.items() if not alerted and now - since > WAREHOUSE_LAG_MINUTES * 60)
    if overdue:
        alerts.append(Alert(
            f"{len(overdue)} ingested file(s) not in the warehouse after {WAREHOUSE_LAG_MINUTES:g} min",
            listed(overdue),
            channels.link("/assets/warehouse/orders"),
        ))
        lagging.update({key: [lagging[key][0], True] for key in overdue})

    for alert in alerts:
        channels.deliver(alert)
    context.update_cursor(json.dumps({
        "failing": failing,
        "quarantine_mark": next_mark(mark, seen, reports),
        "lagging": lagging,
    }))
    return dg.SkipReason(f"{len(alerts)} alert(s) sent." if alerts else "Nothing new to tell.")
