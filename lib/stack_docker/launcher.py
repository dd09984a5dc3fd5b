"""DockerRunLauncher, but a run gets only what the stack gives it.

A run's image and container context are stored with the run, in Postgres, and dagster-docker uses
them as it finds them: its container context's `container_kwargs` override the instance's (a
privileged container, the Docker socket as a volume) and its image is started as is. Whoever can
write a queued run's row could so take the host. This launcher refuses such a run before anything
starts: its image must be one a loaded code location serves now, and its container context may
name only environment variables on the allowlist (dagster.yaml), taken from the daemon's own.
"""

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.launcher import LaunchRunContext, ResumeRunContext
from dagster_docker import DockerRunLauncher
from dagster_docker.utils import DOCKER_CONFIG_SCHEMA


class RunRefused(Exception):
    """The run asked for more than the stack gives runs; nothing was started."""


def dev_mount(location: str) -> str | None:
    """In dev mode (make dev), the one mount a location's runs may have: its own folder of the
    checkout, read-only, over the code in its image. STACK_DEV_CODE_ROOT is set only then."""
    root = os.environ.get("STACK_DEV_CODE_ROOT")
    return f"{root}/{location}:/opt/dagster/app:ro" if root else None


def location_env_vars(location: str) -> list[str]:
    """The names a location's own .env gives its runs (deploy/scripts/derived-compose.py)."""
    return json.loads(os.environ.get("STACK_LOCATION_ENV_VARS") or "{}").get(location, [])


def container_context_problems(
    context: Mapping[str, Any] | None, allowed_env_vars: Sequence[str], allowed_mount: str | None = None
) -> list[str]:
    """What in a run's container context is beyond the allowlist: only env var names may be given
    (and, in dev mode, the location's own read-only code mount)."""
    problems = []
    context = dict(context or {})
    docker = context.pop("docker", None) or {}
    problems += [f"container context setting '{key}'" for key in context if key != "env_vars"]
    if not isinstance(docker, Mapping):
        return [*problems, "a docker container context that is not a mapping"]
    docker = dict(docker)
    if allowed_mount and docker.get("container_kwargs") == {"volumes": [allowed_mount]}:
        docker.pop("container_kwargs")
    problems += [f"docker setting '{key}'" for key in docker if key != "env_vars"]
    for name in [*(context.get("env_vars") or []), *(docker.get("env_vars") or [])]:
        if not isinstance(name, str) or name not in allowed_env_vars:
            problems.append(f"environment variable {name!r} (only {', '.join(allowed_env_vars) or 'none'} may be passed)")
    return problems


class StackDockerRunLauncher(DockerRunLauncher):
    def __init__(self, allowed_run_env_vars: Sequence[str] | None = None, run_cpus: str | None = None, **docker_config):
        self.allowed_run_env_vars = list(allowed_run_env_vars or [])
        if run_cpus:
            # dagster.yaml cannot read the environment inside container_kwargs: the limit comes here.
            kwargs = docker_config.get("container_kwargs") or {}
            docker_config["container_kwargs"] = {**kwargs, "nano_cpus": int(float(run_cpus) * 1e9)}
        super().__init__(**docker_config)

    @classmethod
    def config_type(cls):
        return {
            **DOCKER_CONFIG_SCHEMA,
            "allowed_run_env_vars": dg.Field(
                dg.Array(str), is_required=False,
                description="Variables a code location's container context may pass to its runs (names only).",
            ),
            "run_cpus": dg.Field(
                dg.StringSource, is_required=False, description="CPUs each run container may use (e.g. 1.5)."
            ),
        }

    def launch_run(self, context: LaunchRunContext) -> None:
        self.check_run(context.dagster_run, context.workspace)
        super().launch_run(context)

    def resume_run(self, context: ResumeRunContext) -> None:
        self.check_run(context.dagster_run, context.workspace)
        super().resume_run(context)

    def check_run(self, run: dg.DagsterRun, workspace) -> None:
        """Raises RunRefused unless the run's image and container context are the stack's."""
        origin = run.job_code_origin.repository_origin if run.job_code_origin else None
        if origin is None or run.remote_job_origin is None:
            raise RunRefused(f"Run {run.run_id} names no code location; refused, nothing started.")
        location = run.remote_job_origin.location_name
        problems = container_context_problems(
            origin.container_context, [*self.allowed_run_env_vars, *location_env_vars(location)], dev_mount(location)
        )
        served = _served_image(workspace, location)
        if origin.container_image != served and workspace is not None:
            # The daemon reads the workspace again only once a minute: a code server replaced since
            # (`make reload`) is asked now, before the run is judged by a stale answer.
            served = _served_image(workspace.reload_code_location(location), location)
        if origin.container_image != served:
            problems.append(f"image {origin.container_image!r}, where code location {location!r} serves {served!r}")
        if problems:
            raise RunRefused(
                f"Run {run.run_id} asks for more than the stack gives runs: {'; '.join(problems)}. Refused, "
                "nothing started. (A run queued before its code location was reloaded asks for the old image: "
                "re-execute it.)"
            )


def _served_image(workspace, location: str) -> str | None:
    """The image the location's code server advertises now (its DAGSTER_CURRENT_IMAGE)."""
    entry = workspace.get_code_location_entries().get(location) if workspace is not None else None
    return entry.code_location.container_image if entry is not None and entry.code_location is not None else None
