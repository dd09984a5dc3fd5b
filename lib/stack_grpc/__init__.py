"""Dagster's watch of its code servers, over a kept gRPC channel instead of a new one a second.

The webserver and the daemon each ask every code server for its id once a second, to notice a new
server (dagster/_grpc/server_watcher.py). Dagster's client opens a new channel for every call: a
lookup at Docker's DNS resolver, a TCP and an HTTP/2 handshake. That is 4 to 5 ms of CPU across
the caller, the code server and the Docker engine, where a call on an open channel takes under 1:
two watchers and two code servers cost an idle stack 0.02 cores, a sixth of its whole budget.

Only that call keeps its channel; every other call (definitions, runs, sensors) is Dagster's own.
A channel that fails a call is closed and the next call opens a new one, so a code server that was
replaced, moved to another address or hung is seen exactly as Dagster alone would see it.
"""

import threading

import grpc
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._grpc.__generated__.dagster_api_pb2_grpc import DagsterApiStub
from dagster._grpc.client import DEFAULT_GRPC_TIMEOUT, DagsterGrpcClient

_ATTRIBUTE = "_stack_watch_channel"
_lock = threading.Lock()


def _open_channel(client: DagsterGrpcClient) -> grpc.Channel:
    # The watch's messages are a few bytes: Dagster's size limits and gzip are for definitions.
    address = client._server_address  # Dagster keeps it nowhere public
    if client.use_ssl:
        return grpc.secure_channel(address, client._ssl_creds)
    return grpc.insecure_channel(address)


def _close_channel(client: DagsterGrpcClient, channel: grpc.Channel) -> None:
    with _lock:
        if client.__dict__.get(_ATTRIBUTE) is channel:
            del client.__dict__[_ATTRIBUTE]
    channel.close()


def get_server_id(client: DagsterGrpcClient, timeout: int = DEFAULT_GRPC_TIMEOUT) -> str:
    with _lock:
        channel = client.__dict__.get(_ATTRIBUTE)
        if channel is None:
            channel = client.__dict__[_ATTRIBUTE] = _open_channel(client)
    try:
        reply = DagsterApiStub(channel).GetServerId(dagster_api_pb2.Empty(), metadata=client.metadata, timeout=timeout)
    except Exception as error:
        _close_channel(client, channel)
        client._raise_grpc_exception(error, timeout)  # Dagster's own errors, word for word
    return reply.server_id


def keep_watch_channels_open() -> None:
    """For this process: every DagsterGrpcClient asks for the server id over a kept channel."""
    DagsterGrpcClient.get_server_id = get_server_id
