"""The only holder of the Docker socket: passes on what the run launcher, the webserver and the
janitor need, and refuses everything else with 403 and the reason.

Allowed: ping and version; listing containers; and, for run workers only (containers labelled
dagster-stack/role=run-worker), create, inspect, start, stop, kill, wait, logs and remove. A create
must carry that label, use an image of the stack (ALLOWED_IMAGE_PREFIXES), and ask for nothing
that reaches the host: no privileged mode, host binds or mounts (the socket included), devices,
added capabilities, host namespaces or other security options. No exec, no attach, no image pulls,
no volumes or networks: a client that can reach this proxy can start the stack's runs, not own
the host.

Listens on PROXY_PORT (2375) on the stack's network and answers only the services named in
ALLOWED_CLIENTS (their addresses looked up by name): a run worker, on the same network, is refused
whatever it asks. Speaks to DOCKER_SOCKET.
"""

import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time

RUN_WORKER_LABEL = ("dagster-stack/role", "run-worker")
API_VERSION = re.compile(r"^/v[0-9.]+(?=/)")
CONTAINER_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
# (method, path) pairs allowed; those naming a container also need it to be a run worker.
OPEN_ROUTES = [
    ("GET", re.compile(r"^/_ping$")),
    ("HEAD", re.compile(r"^/_ping$")),
    ("GET", re.compile(r"^/version$")),
    ("GET", re.compile(r"^/containers/json$")),
    ("POST", re.compile(r"^/containers/create$")),
]
RUN_WORKER_ROUTES = [
    ("GET", re.compile(rf"^/containers/({CONTAINER_ID})/(json|logs)$")),
    ("POST", re.compile(rf"^/containers/({CONTAINER_ID})/(start|stop|kill|wait)$")),
    ("DELETE", re.compile(rf"^/containers/({CONTAINER_ID})$")),
]
# Host settings a create may give a value: limits, logging, its network, dropping privileges.
ALLOWED_HOST_CONFIG = {
    "NetworkMode", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuQuota", "CpuPeriod",
    "CpuShares", "PidsLimit", "LogConfig", "Init", "CapDrop", "SecurityOpt", "RestartPolicy", "AutoRemove",
    "ReadonlyRootfs", "ShmSize", "Ulimits",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}
MAX_BODY_BYTES = 1 << 20
# A refused address makes the proxy look the names up again at most this often, so a stranger
# asking in a loop cannot make it flood the DNS.
CLIENT_LOOKUP_SECONDS = 5.0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=None)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def is_dev_code_mount(bind: object) -> bool:
    """In dev mode (STACK_DEV_CODE_ROOT set), a location's folder mounted read-only over its code."""
    root = os.environ.get("STACK_DEV_CODE_ROOT")
    pattern = rf"{re.escape(root)}/[a-z][a-z0-9_]*:/opt/dagster/app:ro" if root else None
    return bool(pattern) and isinstance(bind, str) and re.fullmatch(pattern, bind) is not None


def create_refusal(body: bytes, image_prefixes: list[str]) -> str | None:
    """Why a container create is refused, or None."""
    try:
        spec = json.loads(body or b"{}")
    except ValueError:
        return "the body is not JSON"
    if not isinstance(spec, dict):
        return "the body is not a JSON object"
    labels = spec.get("Labels") or {}
    if not isinstance(labels, dict) or labels.get(RUN_WORKER_LABEL[0]) != RUN_WORKER_LABEL[1]:
        return f"only run workers (label {'='.join(RUN_WORKER_LABEL)}) may be created"
    image = spec.get("Image")
    if not isinstance(image, str) or not any(image.startswith(prefix) for prefix in image_prefixes):
        return f"image {image!r} is not one of the stack's ({', '.join(image_prefixes)}...)"
    host = spec.get("HostConfig") or {}
    if not isinstance(host, dict):
        return "HostConfig is not a JSON object"
    binds = host.get("Binds") or []
    if binds and not all(is_dev_code_mount(bind) for bind in binds):
        return "host folders may not be mounted (in dev mode only a location's own code, read-only)"
    declared = {"/opt/dagster/app": {}} if binds else None
    if (spec.get("Volumes") and spec.get("Volumes") != declared) or spec.get("User") in ("0", "root"):
        return "volumes and the root user are not for run workers"
    refused = sorted(key for key, value in host.items() if value and key not in ALLOWED_HOST_CONFIG | {"Binds"})
    if refused:
        return f"HostConfig {', '.join(refused)} may not be set"
    network = host.get("NetworkMode") or ""
    if network == "host" or network.startswith("container:"):
        return f"network mode {network!r} shares another namespace"
    options = host.get("SecurityOpt") or []
    if not isinstance(options, list) or any(not str(option).startswith("no-new-privileges") for option in options):
        return "security options other than no-new-privileges may not be set"
    return None


class Clients:
    """The addresses of the services allowed to ask, looked up by name whenever an address not
    among them asks. The rate limit is per address: a global one refused a client that (re)started
    within seconds of a lookup made without it, and so failed the runs it launched."""

    def __init__(self, names: list[str]):
        self.names, self.addresses, self.tried = names, set(), {}
        self.lock = threading.Lock()

    def allows(self, address: str) -> bool:
        with self.lock:
            if address in self.addresses:
                return True
            now = time.monotonic()
            self.tried = {seen: at for seen, at in self.tried.items() if now - at < CLIENT_LOOKUP_SECONDS}
            if address in self.tried:
                return False
            self.tried[address] = now
            self.addresses = self.lookup()
            return address in self.addresses

    def lookup(self) -> set[str]:
        found = set()
        for name in self.names:
            try:
                found.update(socket.gethostbyname_ex(name)[2])
            except OSError:
                pass  # a stopped service has no address
        return found


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, and a response body may end with the connection, so
    # streams (logs, wait) pass through as they come.
    protocol_version = "HTTP/1.0"
    socket_path = "/var/run/docker.sock"
    image_prefixes: list[str] = []
    clients = Clients([])

    def do_GET(self):
        self.handle_request()

    do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def handle_request(self) -> None:
        path = API_VERSION.sub("", self.path.split("?", 1)[0])
        client = self.client_address[0]
        # The health check pings from inside the container.
        if not (self.clients.allows(client) or (client == "127.0.0.1" and path == "/_ping")):
            return self.refuse(403, f"{client} is not one of {', '.join(self.clients.names)}")
        if self.headers.get("Transfer-Encoding"):
            return self.refuse(411, "chunked request bodies are not accepted; send a Content-Length")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self.refuse(413, "request body too large")
        body = self.rfile.read(length) if length else b""
        reason = self.refusal(self.command, path, body)
        if reason:
            return self.refuse(403, reason)
        self.forward(body)

    def refusal(self, method: str, path: str, body: bytes) -> str | None:
        if any(method == allowed and pattern.match(path) for allowed, pattern in OPEN_ROUTES):
            return create_refusal(body, self.image_prefixes) if path == "/containers/create" else None
        for allowed, pattern in RUN_WORKER_ROUTES:
            match = pattern.match(path)
            if method == allowed and match:
                return None if self.is_run_worker(match.group(1)) else "only run workers may be acted on"
        return f"{method} {path} is not on the allowlist"

    def is_run_worker(self, container: str) -> bool:
        connection = UnixHTTPConnection(self.socket_path)
        try:
            connection.request("GET", f"/containers/{container}/json")
            response = connection.getresponse()
            if response.status != 200:
                return False
            labels = json.loads(response.read()).get("Config", {}).get("Labels") or {}
            return labels.get(RUN_WORKER_LABEL[0]) == RUN_WORKER_LABEL[1]
        finally:
            connection.close()

    def forward(self, body: bytes) -> None:
        connection = UnixHTTPConnection(self.socket_path)
        try:
            headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            self.send_response_only(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            while chunk := response.read1(65536):
                self.wfile.write(chunk)
                self.wfile.flush()
        finally:
            connection.close()

    def refuse(self, status: int, reason: str) -> None:
        message = json.dumps({"message": f"docker-socket-proxy refused: {reason}"}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(message)))
        self.end_headers()
        self.wfile.write(message)
        self.log_message("refused %s %s: %s", self.command, self.path, reason)

    def log_request(self, code="-", size="-") -> None:
        pass  # refusals are logged; passed requests are too many to log


def main() -> None:
    Handler.socket_path = os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")
    Handler.image_prefixes = [prefix for prefix in os.environ.get("ALLOWED_IMAGE_PREFIXES", "").split(",") if prefix]
    Handler.clients = Clients([name for name in os.environ.get("ALLOWED_CLIENTS", "").split(",") if name])
    if not Handler.image_prefixes or not Handler.clients.names:
        sys.exit("docker-socket-proxy: set ALLOWED_IMAGE_PREFIXES (e.g. dagster-stack/) and ALLOWED_CLIENTS (service names)")
    port = int(os.environ.get("PROXY_PORT", "2375"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    print(
        f"docker-socket-proxy: on :{port} for {', '.join(Handler.clients.names)}; images {', '.join(Handler.image_prefixes)}",
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
