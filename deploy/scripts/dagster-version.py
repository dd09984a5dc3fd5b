#!/usr/bin/env python3
"""Usage: dagster-version.py [--root DIR] show | check | set VERSION

The Dagster version the stack runs is written once, as `dagster==<version>` in
deploy/images/runtime.in. Every other pin of a Dagster package (the images' other inputs, each code
location's pyproject.toml, the test tools, and every lock) follows it: Dagster's own packages carry
the same version (1.13.27), its integration libraries the matching 0.x one (0.29.27).

  show           prints the version
  check          exits 1, naming each, if a pin anywhere differs from what the version implies
  set VERSION    rewrites every pin for VERSION (`make upgrade` then relocks and rebuilds)
"""

import re
import sys
from pathlib import Path

SOURCE = "deploy/images/runtime.in"
# Where Dagster packages are pinned by hand; `make lock` derives the locks from these.
PINNED = ("deploy/images/*.in", "code_locations/*/pyproject.toml", "tests/requirements.in")
LOCKS = ("deploy/images/*.lock", "code_locations/*/requirements.lock", "tests/requirements.lock")
# `dagster-postgres==0.29.27`, as a requirement line or a quoted pyproject dependency.
PIN = re.compile(r"(?P<name>\bdagster(?:-[a-z0-9]+)*)==(?P<version>\d+\.\d+\.\d+)\b")
RELEASE = re.compile(r"1\.(\d+)\.(\d+)")


def source_version(root: Path) -> str:
    found = re.search(r"^dagster==(\S+)", (root / SOURCE).read_text(), re.M)
    if not found:
        sys.exit(f"error: {SOURCE} pins no dagster==<version>")
    return found.group(1)


def implied(version: str, pinned: str) -> str:
    """The version a package pinned at `pinned` has in the release `version`: Dagster 1.M.P's
    integration libraries are 0.(M+16).P."""
    minor, patch = RELEASE.fullmatch(version).groups()
    return version if pinned.startswith("1.") else f"0.{int(minor) + 16}.{patch}"


def files(root: Path, patterns) -> list[Path]:
    return sorted(path for pattern in patterns for path in root.glob(pattern))


def mismatches(root: Path) -> list[str]:
    version = source_version(root)
    found = []
    for path in files(root, PINNED + LOCKS):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pin in PIN.finditer(line):
                if pin["version"] != implied(version, pin["version"]):
                    found.append(f"{path.relative_to(root)}:{number}: {pin.group(0)} (dagster is {version})")
    return found


def set_version(root: Path, version: str) -> None:
    if not RELEASE.fullmatch(version):
        sys.exit(f"error: '{version}' is not a Dagster 1.x release (like 1.13.27)")
    for path in files(root, PINNED):
        text = path.read_text()
        new = PIN.sub(lambda pin: f"{pin['name']}=={implied(version, pin['version'])}", text)
        if new != text:
            path.write_text(new)
            print(f"  {path.relative_to(root)}")


def main() -> None:
    args = sys.argv[1:]
    root = Path(__file__).resolve().parents[2]
    if args[:1] == ["--root"] and len(args) >= 2:
        root, args = Path(args[1]), args[2:]
    if args == ["show"]:
        print(source_version(root))
    elif args == ["check"]:
        found = mismatches(root)
        if found:
            sys.exit("error: these pins do not follow dagster's version (make upgrade DAGSTER=<version> sets all):\n"
                     + "\n".join(found))
        print(f"every Dagster pin follows dagster {source_version(root)}")
    elif len(args) == 2 and args[0] == "set":
        set_version(root, args[1])
    else:
        sys.exit(__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
