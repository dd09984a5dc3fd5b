#!/usr/bin/env python3
"""Usage: new-location.py NAME

Scaffolds code_locations/NAME in the house style (a project with [tool.dg], definitions, a first
asset, its own tests) and registers it everywhere a location is named: its code server in
docker-compose.yml (image, environment, what waits for it), workspace.yaml and the test stacks'
workspace, pytest's path and ruff's first-party list. tests/unit/test_stack_config.py checks the
same places, so a location added by hand is held to the same list. The lock is made by `make lock`.
"""

import keyword
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PINNED_DAGSTER = re.search(r"^dagster==(\S+)", (REPO / "deploy/images/runtime.lock").read_text(), re.M).group(1)

FILES = {
    "pyproject.toml": """\
[project]
name = "{name}"
version = "0.1.0"
description = "Describe what this location does."
requires-python = ">=3.11,<3.12"
dependencies = ["dagster=={dagster}"]

[tool.dagster]
module_name = "{name}.definitions"
code_location_name = "{name}"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{name}"
code_location_target_module = "{name}.definitions"
""",
    "{name}/__init__.py": "",
    "{name}/assets.py": '''\
import dagster as dg


@dg.asset(kinds={{"python"}})
def greeting(context: dg.AssetExecutionContext) -> str:
    """A first asset: replace it with your own."""
    message = "hello from {name}"
    context.add_output_metadata({{"message": message}})
    return message
''',
    "{name}/definitions.py": """\
import dagster as dg

from {name}.assets import greeting

defs = dg.Definitions(
    assets=[greeting],
    # Outputs stay in the run's memory, so its steps run in one process; give the location an IO
    # manager (and drop the executor) once assets feed each other.
    resources={{"io_manager": dg.mem_io_manager}},
    executor=dg.in_process_executor,
)
""",
    "tests/test_assets.py": """\
import dagster as dg

from {name}.assets import greeting
from {name}.definitions import defs


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_greeting_materializes():
    result = dg.materialize([greeting])
    assert result.success
    assert result.output_for_node("greeting") == "hello from {name}"
""",
}

SERVICE = """\
  code-{name}:
    <<: *code-server
    image: *{name}-image
    build:
      <<: *code-location-build
      args:
        <<: *code-location-args
        LOCATION: {name}
    command: ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "{name}.definitions"]
    environment:
      <<: *dagster-env
      DAGSTER_CURRENT_IMAGE: *{name}-image

"""
WORKSPACE_ENTRY = """\
  - grpc_server:
      host: code-{name}
      port: 4000
      location_name: {name}
"""


def fail(message: str) -> None:
    sys.exit(f"error: {message}")


def check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name) or keyword.iskeyword(name):
        fail(f"'{name}' cannot name a location: use lower-case letters, digits and _ (a Python package name)")
    if name in sys.stdlib_module_names or name in {"dagster", "tests", "bench", "stack_s3"}:
        fail(f"'{name}' would shadow a module of that name: choose another")
    if (REPO / "code_locations" / name).exists():
        fail(f"code_locations/{name} exists already")


def insert_after_last(text: str, pattern: str, addition: str) -> str:
    """`addition` right after the last match of `pattern` (whole lines, newline included)."""
    matches = list(re.finditer(pattern, text, re.M))
    if not matches:
        fail(f"cannot find where to register the location (/{pattern}/); add it by hand")
    end = matches[-1].end()
    return text[:end] + addition + text[end:]


def register(name: str) -> None:
    compose_path = REPO / "docker-compose.yml"
    compose = compose_path.read_text()
    compose = insert_after_last(
        compose, r"^  \w+: &\w+-image .*_IMAGE_TAG:-dev\}\n",
        f"  {name}: &{name}-image ${{DAGSTER_IMAGE_REPO:-dagster-stack}}/{name}:${{{name.upper()}_IMAGE_TAG:-dev}}\n",
    )
    compose = insert_after_last(compose, r"^      code-\w+:\n        condition: service_started\n",
                                f"      code-{name}:\n        condition: service_started\n")
    compose = insert_after_last(compose, r"^      DAGSTER_CURRENT_IMAGE: \*\w+-image\n(?:      .*\n)*\n", SERVICE.format(name=name))
    compose_path.write_text(compose)

    workspace = REPO / "workspace.yaml"
    workspace.write_text(workspace.read_text() + WORKSPACE_ENTRY.format(name=name))
    test_workspace = REPO / "code_locations/diagnostics/workspace.yaml"
    text = test_workspace.read_text()
    diagnostics = text.index("  - grpc_server:\n      host: code-diagnostics")
    test_workspace.write_text(text[:diagnostics] + WORKSPACE_ENTRY.format(name=name) + text[diagnostics:])

    pytest_ini = REPO / "pytest.ini"
    pytest_ini.write_text(re.sub(r"^(pythonpath = .*)$", rf"\1 code_locations/{name}", pytest_ini.read_text(), count=1, flags=re.M))
    ruff = REPO / "ruff.toml"
    ruff.write_text(re.sub(r'^(known-first-party = \[)', rf'\1"{name}", ', ruff.read_text(), count=1, flags=re.M))


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1]:
        fail("name the location: make new-location NAME=<name>")
    name = sys.argv[1]
    check_name(name)
    folder = REPO / "code_locations" / name
    for template_path, template in FILES.items():
        path = folder / template_path.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, dagster=PINNED_DAGSTER))
    register(name)
    print(f"Created code_locations/{name} and registered it (docker-compose.yml, workspace.yaml, pytest.ini, ruff.toml).")


if __name__ == "__main__":
    main()
