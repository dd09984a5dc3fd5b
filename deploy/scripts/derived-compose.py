#!/usr/bin/env python3
"""Usage: derived-compose.py [--dev] [--root DIR] < CONFIG_JSON > OVERRIDE   (DIR: the checkout, by default this one)

Writes the part of a stack's compose configuration that follows from its code locations, given
the resolved config (`compose config --format json`):

- Each location's own settings and secrets, `code_locations/<name>/.env` (git-ignored, kept out of
  images): they reach that location's code server and, through its container context, its runs;
  the daemon holds them to hand them over. No other location's containers see them.
- With --dev, dev mode: each code server gets its location's folder of this checkout mounted over
  the code in its image, and so does every run it launches; a `dev-reloader` service reloads a
  location when a file in its folder changes. The images stay as built; the code servers run
  `dagster code-server start`, which can reload, instead of production's `dagster api grpc`.
"""

import argparse
import json
import re
import sys
from pathlib import Path

APP = "/opt/dagster/app"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fail(message: str) -> None:
    sys.exit(f"error: {message}")


def variable_names(env_file: Path, root: Path) -> list[str]:
    """The names an env file sets (compose reads the values itself)."""
    names = []
    for number, line in enumerate(env_file.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.removeprefix("export ").split("=", 1)[0].strip()
        if "=" not in line or not NAME.fullmatch(name):
            fail(f"{env_file.relative_to(root)}, line {number}: expected NAME=value")
        names.append(name)
    return names


def container_context(service: dict) -> dict:
    return json.loads(service.get("environment", {}).get("DAGSTER_CONTAINER_CONTEXT") or "{}")


def location_settings(root: Path, locations: dict[str, dict], stack_variables: set[str]) -> dict:
    override: dict[str, dict] = {}
    owner: dict[str, str] = {}
    env_files = []
    for name, service in sorted(locations.items()):
        env_file = root / "code_locations" / name / ".env"
        if not env_file.is_file():
            continue
        names = variable_names(env_file, root)
        for variable in names:
            if variable in stack_variables:
                fail(f"{env_file.relative_to(root)} sets {variable}, which the stack itself sets: rename it")
            if variable in owner:
                # The daemon holds every location's values: one name, one value.
                fail(f"{variable} is set for both {owner[variable]} and {name}: give each its own name")
            owner[variable] = name
        context = container_context(service)
        docker = context.setdefault("docker", {})
        docker["env_vars"] = [*docker.get("env_vars", []), *names]
        override[f"code-{name}"] = {
            "env_file": [str(env_file)],
            "environment": {"DAGSTER_CONTAINER_CONTEXT": json.dumps(context)},
        }
        env_files.append(str(env_file))
    if env_files:
        # The launcher lets each location's runs have its own names, and no other location's.
        override["daemon"] = {
            "env_file": env_files,
            "environment": {"STACK_LOCATION_ENV_VARS": json.dumps(by_location(owner))},
        }
    return override


def by_location(owner: dict[str, str]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for variable, location in owner.items():
        names.setdefault(location, []).append(variable)
    return names


def reloadable(service: dict) -> list[str] | None:
    """A code server's command that can reload, if it is `dagster api grpc ARGS` (one process,
    which cannot re-import its code): `dagster code-server start ARGS` (a proxy that re-imports it
    in a fresh process when asked, as the dev reloader does). Both take the same -h/-p/-m."""
    command = service.get("command") or []
    if command[:3] == ["dagster", "api", "grpc"]:
        return ["dagster", "code-server", "start", *command[3:]]
    return None


def dev_mode(root: Path, locations: dict[str, dict], override: dict, webserver: dict) -> None:
    for name, service in sorted(locations.items()):
        mount = f"{root / 'code_locations' / name}:{APP}:ro"
        entry = override.setdefault(f"code-{name}", {})
        if command := reloadable(service):
            entry["command"] = command
        context = json.loads(entry.get("environment", {}).get("DAGSTER_CONTAINER_CONTEXT") or "null") or container_context(service)
        kwargs = context.setdefault("docker", {}).setdefault("container_kwargs", {})
        kwargs["volumes"] = [*kwargs.get("volumes", []), mount]
        entry["volumes"] = [mount]
        entry.setdefault("environment", {})["DAGSTER_CONTAINER_CONTEXT"] = json.dumps(context)
    # The launcher and the Docker socket proxy allow these mounts, and only these, in dev mode.
    for service in ("daemon", "docker-proxy"):
        override.setdefault(service, {}).setdefault("environment", {})["STACK_DEV_CODE_ROOT"] = str(root / "code_locations")
    override["dev-reloader"] = {
        "image": webserver["image"],
        "command": ["python", "/opt/dagster/deploy/dev-reloader.py", *(f"{name}=/code/{name}" for name in sorted(locations))],
        "volumes": [f"{root / 'code_locations'}:/code:ro"],
        "init": True,
        "restart": "unless-stopped",
        "mem_limit": webserver.get("mem_limit", "1g"),
        "pids_limit": webserver.get("pids_limit", 512),
        "logging": webserver.get("logging", {}),
        "depends_on": {"webserver": {"condition": "service_started"}},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", action="store_true")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    arguments = parser.parse_args()
    services = json.load(sys.stdin)["services"]
    locations = {name.removeprefix("code-"): service for name, service in services.items() if name.startswith("code-")}
    stack_variables = set(services["daemon"].get("environment", {})) | {"DAGSTER_CURRENT_IMAGE", "DAGSTER_CONTAINER_CONTEXT"}
    override = location_settings(arguments.root, locations, stack_variables)
    if arguments.dev:
        dev_mode(arguments.root, locations, override, services["webserver"])
    json.dump({"services": override}, sys.stdout, indent=2)  # JSON is YAML too


if __name__ == "__main__":
    main()
