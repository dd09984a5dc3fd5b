"""Prints the helm flags that point every image in deploy/kubernetes/values.yaml at one
repository prefix and at each image's tag, one flag per line:

    python deploy/kubernetes/image_values.py REGISTRY TAG [VALUES_FILE]

REGISTRY replaces compose's DAGSTER_IMAGE_REPO (`dagster-stack`): the image `<REGISTRY>/<name>:<tag>`
is what `make push` publishes for each of the stack's images. TAG is the stack's images' tag; a
code location's image has its own, from <LOCATION>_IMAGE_TAG in the environment
(deploy/scripts/_lib.sh exports them), else TAG. `--set-string` keeps a tag such as
`123456` or `12e456` a string. Code locations are addressed by their index in the values file's
list, so a list is never replaced wholesale.
"""

import os
import sys
from pathlib import Path

import yaml

VALUES = Path(__file__).with_name("values.yaml")


def image_settings(registry: str, tag: str, values: dict) -> dict[str, str]:
    settings = {}

    def image(path: str, name: str, image_tag: str = tag) -> None:
        settings[f"{path}.repository"] = f"{registry}/{name}"
        settings[f"{path}.tag"] = image_tag

    image("dagsterWebserver.image", "dagster")
    image("dagsterDaemon.image", "dagster")
    image("pipelineRun.image", "runtime")
    image("stack.proxy.image", "proxy")
    for index, deployment in enumerate(values["dagster-user-deployments"]["deployments"]):
        name = deployment["name"]
        image(f"dagster-user-deployments.deployments[{index}].image", name, os.environ.get(f"{name.upper()}_IMAGE_TAG", tag))
    # The chart writes this one as <registry>/<repository>:<tag>.
    settings["postgresql.image.registry"] = registry
    settings["postgresql.image.repository"] = "pgbouncer"
    settings["postgresql.image.tag"] = tag
    return settings


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    registry, tag = sys.argv[1].rstrip("/"), sys.argv[2]
    values = yaml.safe_load(Path(sys.argv[3] if len(sys.argv) == 4 else VALUES).read_text())
    for key, value in image_settings(registry, tag, values).items():
        print(f"--set-string={key}={value}")


if __name__ == "__main__":
    main()
