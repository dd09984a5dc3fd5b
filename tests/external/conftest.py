"""A stack whose Postgres and S3 store are outside it (docs/configuration.md): stand-ins for
managed services, started apart from its compose project from the stack's own Postgres and S3
images, on Docker's default bridge, published on that bridge's gateway address (which the stack's
containers and this host both reach). The Postgres stand-in accepts TLS connections only."""

import ipaddress
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import docker
import psycopg2
import pytest

from tests.harness.live import pytest_runtest_makereport, require_prepared, running  # noqa: F401 (a hook)
from tests.harness.polling import wait_until
from tests.harness.repo import REPO, TEST_STACK, read_env_file, runs_the_s3_stand_in, stack_files
from tests.harness.stack import Stack

# A self-signed certificate made as the container starts, and a pg_hba.conf that admits TLS
# connections only (`hostssl`), set by the image's own init hook before the server opens.
POSTGRES_WITH_TLS_ONLY = """
set -eu
mkdir -p /tmp/tls
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=external-postgres \
  -keyout /tmp/tls/server.key -out /tmp/tls/server.crt 2>/dev/null
chown postgres:postgres /tmp/tls/server.key /tmp/tls/server.crt
chmod 600 /tmp/tls/server.key
echo 'sed -i "s/^host /hostssl /" "$PGDATA/pg_hba.conf"' >/docker-entrypoint-initdb.d/tls-only.sh
exec docker-entrypoint.sh postgres -c ssl=on -c ssl_cert_file=/tmp/tls/server.crt -c ssl_key_file=/tmp/tls/server.key
"""
STAND_IN_LABEL = "dagster-stack/external-stand-in"


def pytest_configure(config):
    require_prepared(TEST_STACK, "`make test` or `make test-integration`")


@dataclass
class ExternalServices:
    """The stand-ins, as the stack's settings name them (POSTGRES_*, S3_*)."""

    settings: dict[str, str]
    containers: list

    @contextmanager
    def postgres(self, database: str | None = None) -> Iterator:
        """A connection as the owner role, over TLS, as the stack's own connections are made."""
        connection = psycopg2.connect(
            host=self.settings["POSTGRES_HOST"], port=self.settings["POSTGRES_PORT"], sslmode="require",
            user=self.settings["POSTGRES_USER"], password=self.settings["POSTGRES_PASSWORD"],
            dbname=database or self.settings["POSTGRES_DB"], connect_timeout=5,
        )
        try:
            with connection, connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def postgres_answers(self) -> None:
        with self.postgres() as cursor:
            cursor.execute("SELECT 1")

    def assert_tls_only(self) -> None:
        """The stand-in refuses a login without TLS: whatever reaches it from the stack is encrypted."""
        with pytest.raises(psycopg2.OperationalError, match="no encryption"):
            psycopg2.connect(
                host=self.settings["POSTGRES_HOST"], port=self.settings["POSTGRES_PORT"], sslmode="disable",
                user=self.settings["POSTGRES_USER"], password=self.settings["POSTGRES_PASSWORD"],
                dbname=self.settings["POSTGRES_DB"], connect_timeout=5,
            ).close()

    def s3(self):
        return boto3.client(
            "s3", endpoint_url=self.settings["S3_ENDPOINT_URL"], region_name=self.settings["S3_REGION"],
            aws_access_key_id=self.settings["MINIO_ROOT_USER"], aws_secret_access_key=self.settings["MINIO_ROOT_PASSWORD"],
        )

    def logs(self) -> str:
        return "\n".join(f"=== {c.name}\n{c.logs(tail=100).decode(errors='replace')}" for c in self.containers)


def stand_in_images() -> tuple[str, str]:
    """The Postgres and S3 images of the registry-less world, which a stack here already has."""
    if not runs_the_s3_stand_in():
        # MinIO's image would need the stack's identities made in it (deploy/s3/identity.sh does that
        # for the stack's own); the SeaweedFS stand-in makes them from its environment as it starts.
        pytest.skip("the S3 stand-in is the registry-less world's SeaweedFS image")
    images = read_env_file(REPO / ".stack" / "images.env")
    return images["POSTGRES_IMAGE"], images["MINIO_IMAGE"]


def bridge_gateway(client) -> str:
    """The host's address on Docker's default bridge. Some engines leave the gateway out of the
    bridge's IPAM config (Debian's 20.10 did on a fresh host); it is then the subnet's first address."""
    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.fixture(scope="session")
def external() -> Iterator[ExternalServices]:
    base = Stack.from_environment(TEST_STACK)
    settings = dict(base.settings)
    client = docker.from_env()
    address = bridge_gateway(client)
    postgres_port, s3_port = int(settings["TEST_EXTERNAL_POSTGRES_PORT"]), int(settings["TEST_EXTERNAL_S3_PORT"])
    postgres_image, s3_image = stand_in_images()
    buckets = [settings[name] for name in ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET")]
    labels = {STAND_IN_LABEL: base.project}
    suffix = uuid.uuid4().hex[:6]
    services = ExternalServices(settings, [])
    try:
        services.containers.append(client.containers.run(
            postgres_image, name=f"{base.project}-external-postgres-{suffix}", detach=True, labels=labels,
            entrypoint=["bash", "-c", POSTGRES_WITH_TLS_ONLY],
            environment={name: settings[name] for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")},
            ports={"5432/tcp": (address, postgres_port)},
        ))
        # The store makes the stack's identities from these as it starts (deploy/s3/entrypoint.sh):
        # what an operator does in a managed store's console.
        identities = {name: settings[name] for name in (
            "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "S3_APP_ACCESS_KEY", "S3_APP_SECRET_KEY",
            "S3_UPLOAD_ACCESS_KEY", "S3_UPLOAD_SECRET_KEY", "S3_READ_ACCESS_KEY", "S3_READ_SECRET_KEY")}
        services.containers.append(client.containers.run(
            s3_image, command=["server", "/data"], name=f"{base.project}-external-s3-{suffix}", detach=True,
            labels=labels, ports={"9000/tcp": (address, s3_port)},
            environment={**identities, "S3_APP_BUCKETS": ",".join(buckets), "S3_UPLOAD_BUCKET": buckets[0],
                         "S3_READ_BUCKETS": ",".join(buckets[2:])},
        ))
        settings.update({
            "POSTGRES_HOST": address, "POSTGRES_PORT": str(postgres_port), "POSTGRES_SSLMODE": "require",
            "S3_ENDPOINT_URL": f"http://{address}:{s3_port}", "S3_REGION": "us-east-1",
        })
        wait_until("the Postgres stand-in to accept TLS logins", lambda: answers(services.postgres_answers), 120, 1)
        wait_until("the S3 stand-in to answer", lambda: answers(lambda: services.s3().list_buckets()), 120, 1)
        services.assert_tls_only()
        yield services
    except Exception:
        print(services.logs())
        raise
    finally:
        for container in services.containers:
            container.remove(force=True, v=True)


def answers(probe) -> bool:
    try:
        probe()
        return True
    except Exception:  # not listening yet, or still initialising
        return False


@pytest.fixture(scope="session")
def stack(external, tmp_path_factory) -> Iterator[Stack]:
    """The test stack's project, ports and secrets, pointed at the stand-ins by the settings a user
    would put into .env."""
    base_files = stack_files(Path(os.environ.get("STACK_ENV_OVERRIDES") or TEST_STACK))
    overrides = tmp_path_factory.mktemp("external") / "stack.env"
    pointed = {key: external.settings[key] for key in (
        "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_SSLMODE", "S3_ENDPOINT_URL", "S3_REGION")}
    overrides.write_text(Path(base_files["STACK_ENV_OVERRIDES"]).read_text()
                         + "".join(f"{key}={value}\n" for key, value in pointed.items()))
    stack = Stack.from_files({**base_files, "STACK_ENV_OVERRIDES": str(overrides)})
    came_up = False
    try:
        for up in running(stack):  # up, then down after the session
            came_up = True
            yield up
    finally:
        if not came_up:  # running() leaves a stack that failed to come up as it is
            stack.down()
