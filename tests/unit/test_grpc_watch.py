"""The webserver's and daemon's watch of their code servers (lib/stack_grpc), against a real code
server (`dagster api grpc`) that the tests start, hang, kill and replace."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import stack_grpc
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._grpc.client import DagsterGrpcClient

from tests.harness.polling import wait_until
from tests.harness.s3_fixtures import free_port

DAGSTER_GET_SERVER_ID = DagsterGrpcClient.get_server_id


def start_code_server(folder: Path, port: int) -> subprocess.Popen:
    definitions = folder / "definitions.py"
    definitions.write_text("import dagster\n\ndefs = dagster.Definitions()\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster", "api", "grpc", "--python-file", str(definitions),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = DagsterGrpcClient(host="127.0.0.1", port=port)
    wait_until(f"the code server on port {port}", lambda: server.poll() is None and serves(client), timeout=60)
    return server


def serves(client: DagsterGrpcClient) -> bool:
    try:
        DAGSTER_GET_SERVER_ID(client, timeout=2)
        return True
    except DagsterUserCodeUnreachableError:
        return False


def connections_made_to(port: int) -> set[int]:
    """Local ports of this host's TCP connections to `port`, closed ones (TIME_WAIT) included."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):  # the server listens on IPv6 too
        for line in Path(table).read_text().splitlines()[1:]:
            local, remote = line.split()[1:3]
            if int(remote.split(":")[1], 16) == port:
                ports.add(int(local.split(":")[1], 16))
    return ports


@pytest.fixture
def watched(monkeypatch):
    monkeypatch.setattr(DagsterGrpcClient, "get_server_id", DAGSTER_GET_SERVER_ID)  # undone after the test
    stack_grpc.keep_watch_channels_open()


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGCONT)
            server.kill()
        server.wait()


def test_the_watch_asks_over_one_kept_connection(watched, servers, tmp_path):
    port = free_port()
    servers.append(start_code_server(tmp_path, port))
    client = DagsterGrpcClient(host="127.0.0.1", port=port)
    server_id = DAGSTER_GET_SERVER_ID(client)
    before = connections_made_to(port)
    assert {client.get_server_id(timeout=2) for _ in range(10)} == {server_id}
    # Dagster's own client opens (and closes) a connection per call: 4 to 9 of the ten here.
    assert len(connections_made_to(port) - before) == 1


def test_a_hung_then_replaced_code_server_is_seen_as_dagster_sees_it(watched, servers, tmp_path):
    port = free_port()
    servers.append(start_code_server(tmp_path, port))
    client = DagsterGrpcClient(host="127.0.0.1", port=port)
    first_id = client.get_server_id(timeout=2)

    os.kill(servers[0].pid, signal.SIGSTOP)
    with pytest.raises(DagsterUserCodeUnreachableError, match="timed out"):
        client.get_server_id(timeout=1)

    servers[0].kill()
    servers[0].wait()
    with pytest.raises(DagsterUserCodeUnreachableError, match="Could not reach"):
        client.get_server_id(timeout=1)

    servers.append(start_code_server(tmp_path, port))
    new_id = client.get_server_id(timeout=2)
    assert new_id != first_id and new_id == DAGSTER_GET_SERVER_ID(client)
