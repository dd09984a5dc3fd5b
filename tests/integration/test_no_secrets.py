"""No secret is in the repo or in any image the stack uses: not a password or key that the env files
hold, not a private key, not an AWS access key id. An image is meant to be shared, and every layer
ships whole: a file that a later layer deletes can still be read from the layer that added it.
Needs the built images (`make images`), not a running stack."""

import fnmatch
import json
import subprocess

import docker
import pytest

from tests.harness.repo import REPO, TEST_STACK, read_env_file
from tests.harness.secret_scan import Finding, SecretScanner
from tests.harness.stack import Stack

# The user's stack and each throwaway stack have env files of their own, each with its own secrets.
ENV_FILES = [".env", ".stack/test.env", ".stack/faults.env", ".stack/bench.env"]
SECRET_KEY_WORDS = ("PASSWORD", "SECRET")
# Keys published by third parties, found by a pattern; glob over where -> what. One of our values
# is never allowed anywhere.
ALLOWED = {
    # GnuTLS's known-answer self-tests embed their fixed test keys (lib/crypto-selftests-pk.c).
    "*/libgnutls.so.*": "a private key",
    # AWS's documented placeholder key ids (ending in EXAMPLE) in boto3's docs and
    # botocore's API examples.
    "*/site-packages/boto3/examples/*": "an AWS access key id",
    "*/site-packages/botocore/data/*/examples-1.json": "an AWS access key id",
}


def assert_no_secret(findings: list[Finding]) -> None:
    unexpected = [
        finding
        for finding in findings
        if not any(fnmatch.fnmatchcase(finding.where, glob) and finding.what == what for glob, what in ALLOWED.items())
    ]
    assert not unexpected, "secrets found:\n" + "\n".join(map(str, unexpected))


@pytest.fixture(scope="module")
def scanner() -> SecretScanner:
    """Looks for every value of a *PASSWORD* or *SECRET* key in the env files that exist."""
    secrets: dict[str, str] = {}
    for name in ENV_FILES:
        if (REPO / name).exists():
            for key, value in read_env_file(REPO / name).items():
                if any(word in key for word in SECRET_KEY_WORDS):
                    secrets.setdefault(value, f"{key} from {name}")
    return SecretScanner(secrets)


@pytest.fixture(scope="module")
def images() -> list[str]:
    """Every image the stack runs, and the base images chosen in .stack/images.env (the Python
    image is only a build base, so compose does not list it)."""
    listed = Stack.from_environment(TEST_STACK).compose("config", "--images").stdout.split()
    chosen = read_env_file(REPO / ".stack" / "images.env")
    names = sorted({*listed, *(value for key, value in chosen.items() if key.endswith("_IMAGE"))})
    client = docker.from_env()
    missing = [name for name in names if not client.images.list(name=name)]
    assert not missing, f"images not built: {missing}; run `make images` (or `make test`) first"
    return names


def test_repo_files_hold_no_secret(scanner):
    # Untracked files that are not ignored count too: they are one `git add` away from a commit.
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode()
    findings = []
    for name in sorted(set(listing.split("\0")) - {""}):
        path = REPO / name
        if path.is_file():  # a tracked file deleted in the work tree is in no commit to come
            with path.open("rb") as content:
                findings += scanner.scan_stream(name, content)
    assert_no_secret(findings)


def test_image_configs_hold_no_secret(scanner, images):
    """What `docker image inspect` and `docker history` show anyone: env, labels, and each layer's
    command with the build args it used."""
    client = docker.from_env()
    findings = []
    for name in images:
        image = client.images.get(name)
        parts = {
            "env": "\n".join(image.attrs["Config"].get("Env") or []),
            "labels": json.dumps(image.attrs["Config"].get("Labels") or {}),
            "history": "\n".join(step["CreatedBy"] for step in image.history()),
        }
        for part, text in parts.items():
            findings += [Finding(f"{name} {part}", what) for what in sorted(scanner.scan_bytes(text.encode()))]
    assert_no_secret(findings)


def test_image_layers_hold_no_secret(scanner, images):
    # One `docker save` of all the images, streamed: Docker writes a layer they share once, and
    # nothing lands on disk. (The SDK's Image.save exports one image at a time.)
    with subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as save:
        findings = scanner.scan_image_archive(save.stdout)
        errors = save.stderr.read().decode()
    assert save.returncode == 0, f"docker save failed: {errors}"
    assert_no_secret(findings)
