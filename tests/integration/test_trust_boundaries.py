"""Trust boundaries on the live stack (docs/security.md): whoever drops files is no operator,
`make sql` without WRITE=1 changes nothing, data shows as text, and no dropped version is lost."""

import json
import os
import subprocess
import uuid

import pytest
import requests
from botocore.exceptions import ClientError
from markdown_it import MarkdownIt

from tests.harness.orders import HEADER, orders_csv
from tests.harness.polling import wait_until
from tests.harness.repo import REPO
from tests.harness.warehouse import make_sql

PLANTED_IMAGE = "![x](https://evil.example/b.png)"
MARKDOWN_PREVIEWS = """
query ($path: [String!]!, $partition: String!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(partitions: [$partition]) {
      metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } }
  }
}
"""


def denied(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


def make(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.env_files, "IMAGE_TAG": stack.settings["IMAGE_TAG"]}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, check=False,
    )


def test_uploader_key_only_puts_files_into_landing(stack):
    uploader, root, settings = stack.s3("uploader"), stack.s3("root"), stack.settings
    landing, key = settings["LANDING_BUCKET"], f"trust/{uuid.uuid4().hex}.txt"
    uploader.put_object(Bucket=landing, Key=key, Body=b"dropped")
    assert denied(uploader.get_object, Bucket=landing, Key=key)
    assert denied(uploader.list_objects_v2, Bucket=landing)
    denied(uploader.delete_object, Bucket=landing, Key=key)  # refused: a 403, or a 204 that deletes nothing
    assert root.get_object(Bucket=landing, Key=key)["Body"].read() == b"dropped"
    for reserved in ("processed/", "quarantine/"):
        assert denied(uploader.put_object, Bucket=landing, Key=f"{reserved}{key}", Body=b"overwrite")
    run_output = f"dagster/{uuid.uuid4().hex}/step/result.json"
    for variable in ("IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET"):
        assert denied(uploader.put_object, Bucket=settings[variable], Key=run_output, Body=b"planted")
        assert denied(uploader.list_objects_v2, Bucket=settings[variable])


def test_reader_key_reads_logs_and_the_warehouse_lists_landing_and_writes_nothing(stack):
    reader, settings = stack.s3("reader"), stack.settings
    for variable in ("COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET"):
        reader.list_objects_v2(Bucket=settings[variable])
    for variable in ("LANDING_BUCKET", "IO_MANAGER_BUCKET", "COMPUTE_LOG_BUCKET", "WAREHOUSE_BUCKET"):
        assert denied(reader.put_object, Bucket=settings[variable], Key="intruder.txt", Body=b"x")
    # The landing bucket's names, for the metrics exporter's counts, but no file in it.
    landing, key = settings["LANDING_BUCKET"], f"processed/trust/{uuid.uuid4().hex}.csv"
    stack.s3("root").put_object(Bucket=landing, Key=key, Body=b"a user's data")
    assert key in [item["Key"] for item in reader.list_objects_v2(Bucket=landing, Prefix=key)["Contents"]]
    assert denied(reader.get_object, Bucket=landing, Key=key)
    stack.s3("root").delete_object(Bucket=landing, Key=key)
    assert denied(reader.list_objects_v2, Bucket=settings["IO_MANAGER_BUCKET"])
    (readonly_ui,) = stack.service_containers("webserver-readonly")
    env = dict(item.split("=", 1) for item in readonly_ui.attrs["Config"]["Env"])
    assert env["AWS_ACCESS_KEY_ID"] == settings["S3_READ_ACCESS_KEY"]


def test_make_drop_uploads_with_the_uploader_key_and_refuses_reserved_prefixes(stack, tmp_path):
    sample = tmp_path / "orders.csv"
    sample.write_bytes(orders_csv(3))
    key = f"trust/make-drop-{uuid.uuid4().hex}.csv"
    dropped = make(stack, "drop", f"FILE={sample}", f"KEY={key}")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert f"({sample.stat().st_size} bytes)" in dropped.stdout
    refused = make(stack, "drop", f"FILE={sample}", "KEY=processed/planted.csv")
    assert refused.returncode != 0 and "where the stack keeps the files it has handled" in refused.stdout + refused.stderr
    stack.wait_until_idle()


@pytest.fixture(scope="module")
def warehouse_file(stack) -> str:
    """A dropped file whose rows are in the warehouse; one product cell is a planted image link."""
    key = f"trust/planted-{uuid.uuid4().hex}.csv"
    body = HEADER + f"1,2024-06-01,C100,{PLANTED_IMAGE},2,9.90\n2,2024-06-02,C101,Mug,1,5.00\n"
    stack.wait_for_sensor_run(stack.drop(key, body.encode()))

    def previews():
        data = stack.query(MARKDOWN_PREVIEWS, {"path": ["warehouse", "orders"], "partition": key})
        found = data["assetOrError"]["assetMaterializations"]
        return found or None

    wait_until("the file's rows in the warehouse", previews, timeout=180, interval=2)
    stack.wait_until_idle()
    return key


@pytest.mark.parametrize("asset", [("ingestion", "orders"), ("warehouse", "orders")])
def test_a_planted_image_link_shows_as_text(stack, warehouse_file, asset):
    data = stack.query(MARKDOWN_PREVIEWS, {"path": list(asset), "partition": warehouse_file})
    entries = data["assetOrError"]["assetMaterializations"][0]["metadataEntries"]
    previews = [entry["mdStr"] for entry in entries if entry.get("mdStr") is not None and "|" in entry["mdStr"]]
    assert previews, entries
    for markdown in previews:
        rendered = MarkdownIt("commonmark").enable("table").render(markdown)
        assert "<img" not in rendered and "evil.example/b.png" in rendered, rendered


def test_the_ui_loads_images_from_itself_only(stack):
    response = requests.get(stack.ui_url, headers=stack.auth_header(), timeout=30)
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH 'dbname={db} host=postgres user={user} password={password}' AS catalog (TYPE postgres)",
        "COPY (SELECT 1 AS x) TO 's3://{landing}/trust-copied.csv'",
        "INSERT INTO orders BY NAME SELECT 99 AS order_id",
        "DELETE FROM orders",
        "SET enable_external_access = true",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_make_sql_without_write_changes_nothing(stack, warehouse_file, statement):
    settings = stack.settings
    filled = statement.format(
        db=settings.get("WAREHOUSE_DB", "warehouse"), user=settings.get("WAREHOUSE_DB_USER", "warehouse"),
        password=settings["WAREHOUSE_DB_PASSWORD"], landing=settings["LANDING_BUCKET"],
    )
    before = make_sql(stack, "SELECT count(*) FROM orders").stdout
    result = make_sql(stack, filled, check=False)
    assert result.returncode != 0, result.stdout
    assert make_sql(stack, "SELECT count(*) FROM orders").stdout == before
    assert "trust-copied.csv" not in [item["Key"] for item in stack.objects("LANDING_BUCKET")]


def test_a_redrop_keeps_both_archived_versions(stack):
    key = f"trust/redrop-{uuid.uuid4().hex}.csv"
    first, second = orders_csv(2), orders_csv(3, first_id=100)
    for body in (first, second):
        run = stack.wait_for_sensor_run(stack.drop(key, body))
        assert run["status"] == "SUCCESS", stack.run_errors(run["runId"])
    archived = [item for item in stack.objects("LANDING_BUCKET") if item["Key"].startswith(f"processed/{key}")]
    root = stack.s3()
    kept = sorted(root.get_object(Bucket=stack.settings["LANDING_BUCKET"], Key=item["Key"])["Body"].read() for item in archived)
    assert kept == sorted([first, second]), [item["Key"] for item in archived]


def repository_origin(node):
    """The run body's repository origin: where its image and container context are stored."""
    if isinstance(node, dict):
        if node.get("__class__") == "RepositoryPythonOrigin":
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    return next((found for child in children if (found := repository_origin(child)) is not None), None)


TAMPERED_RUNS = {
    "privileged": lambda origin: origin.update(container_context={"docker": {"container_kwargs": {"privileged": True}}}),
    "socket bind": lambda origin: origin.update(container_context={"docker": {"container_kwargs": {
        "volumes": {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}}}}),
    "foreign env var": lambda origin: origin.update(container_context={"docker": {"env_vars": ["LD_PRELOAD=/tmp/x.so"]}}),
    "foreign image": lambda origin: origin.update(container_image=origin["container_image"].rsplit(":", 1)[0] + ":planted"),
}


def test_a_queued_run_edited_to_ask_for_more_is_refused_and_starts_nothing(stack):
    stack.wait_until_idle()
    stack.compose("stop", "daemon")
    try:
        runs = {}
        for name, tamper in TAMPERED_RUNS.items():
            run_id = stack.launch("ingestion", "inventory_job")
            body = json.loads(stack.psql(f"SELECT run_body FROM runs WHERE run_id = '{run_id}'"))
            tamper(repository_origin(body))
            stack.psql(f"UPDATE runs SET run_body = $body${json.dumps(body)}$body$ WHERE run_id = '{run_id}'")
            runs[name] = run_id
    finally:
        stack.compose("start", "daemon")
    for name, run_id in runs.items():
        assert stack.wait_for_run(run_id) == "FAILURE", name
        assert stack.run_container(run_id) is None, f"{name}: a container was created"
        assert any("asks for more than the stack gives runs" in error for error in stack.run_errors(run_id)), name
    # The stack's own runs still start.
    assert stack.wait_for_run(stack.launch("ingestion", "inventory_job")) == "SUCCESS"


# Runs in a service container, against the socket proxy, as its clients do (docker-py, DOCKER_HOST).
SOCKET_PROBE = """
import json, sys
import docker
client, image, network, service = docker.from_env(), sys.argv[1], sys.argv[2], sys.argv[3]
worker = {"dagster-stack/role": "run-worker"}
answers = {}

def attempt(name, call):
    try:
        call()
        answers[name] = "allowed"
    except docker.errors.APIError as error:
        answers[name] = f"{error.status_code} {error.explanation}"

def create(**kwargs):
    return client.containers.create(**{"image": image, "command": ["true"], "labels": worker, "network": network, **kwargs})

attempt("privileged", lambda: create(privileged=True))
attempt("socket bind", lambda: create(volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}))
attempt("host bind", lambda: create(volumes={"/": {"bind": "/host", "mode": "ro"}}))
attempt("host network", lambda: create(network=None, network_mode="host"))
attempt("added capability", lambda: create(cap_add=["SYS_ADMIN"]))
attempt("host pid", lambda: create(pid_mode="host"))
attempt("unlabelled", lambda: create(labels={}))
attempt("foreign image", lambda: create(image="python:3.11-slim-bookworm"))
attempt("inspect a service", lambda: client.containers.get(service))
attempt("image pull", lambda: client.images.pull("alpine", tag="latest"))
worker_container = create(command=["python", "-c", "print('hello from a run worker')"])
attempt("exec", lambda: client.api.exec_create(worker_container.id, "id"))
worker_container.start()
answers["wait"] = worker_container.wait(timeout=60)["StatusCode"]
answers["logs"] = worker_container.logs().decode().strip()
worker_container.remove()
print(json.dumps(answers))
"""


def test_the_socket_proxy_lets_through_run_workers_only(stack):
    image = stack.code_location_images()["ingestion"]
    (webserver,) = stack.service_containers("webserver")
    result = stack.compose("exec", "-T", "daemon", "python", "-c", SOCKET_PROBE, image, stack.network, webserver.name)
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers.pop("wait") == 0 and answers.pop("logs") == "hello from a run worker"
    assert {name: answer.split(" ", 1)[0] for name, answer in answers.items()} == dict.fromkeys(answers, "403"), answers
    assert all("docker-socket-proxy refused" in answer for answer in answers.values()), answers


PROXY_PING = "import docker; docker.DockerClient(base_url='tcp://docker-proxy:2375').ping()"


def test_only_the_proxy_holds_the_docker_socket_and_only_its_clients_reach_it(stack):
    for container in stack.service_containers(*[service["Service"] for service in stack.services()]):
        binds = container.attrs["HostConfig"].get("Binds") or []
        holds = any("docker.sock" in bind for bind in binds)
        assert holds == (container.labels["com.docker.compose.service"] == "docker-proxy"), container.name
    refused = stack.compose("exec", "-T", "code-ingestion", "python", "-c", PROXY_PING, check=False)
    assert refused.returncode != 0 and "docker-socket-proxy refused" in refused.stderr, refused.stderr


def test_a_client_started_just_after_a_stranger_was_refused_is_let_through(stack):
    # The refusal makes the proxy look its clients up while the janitor is stopped; the janitor
    # then asks within seconds, as a restarted daemon launching a run does.
    janitor = stack.container("run-janitor")
    janitor.stop()
    try:
        code, output = stack.container("code-ingestion").exec_run(["python", "-c", PROXY_PING])
        assert code != 0 and b"docker-socket-proxy refused" in output, output
    finally:
        janitor.start()
    code, output = stack.container("run-janitor").exec_run(["python", "-c", PROXY_PING])
    assert code == 0, output
