"""The front door (deploy/proxy): the UI asks for a login, and what a foreign web page could make a
browser send is refused before it reaches a webserver, with nothing launched."""

import http.client
import json

import docker
import pytest
import requests

from tests.harness.polling import wait_until

# Runs of the job these tests launch: automation may start runs of its own at any time.
RUN_COUNT = '{ runsOrError(filter: {pipelineName: "smoke_job"}) { ... on Runs { count } } }'
LAUNCH_SMOKE_JOB = """
mutation {
  launchRun(executionParams: {
    selector: {repositoryLocationName: "diagnostics", repositoryName: "__repository__", jobName: "smoke_job"},
    runConfigData: {}
  }) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
LAUNCH_AS_JSON = json.dumps({"query": LAUNCH_SMOKE_JOB})
EVIL_ORIGIN = "http://evil.example"


def run_count(stack) -> int:
    return stack.query(RUN_COUNT)["runsOrError"]["count"]


# What a page on another site (or a rebound DNS name) can make the operator's browser send, each
# carrying the operator's login as a browser would once they have logged in.
REFUSED_LAUNCHES = {
    "GET with the mutation in the URL": (405, lambda stack: requests.get(
        f"{stack.ui_url}/graphql", params={"query": LAUNCH_SMOKE_JOB}, headers=stack.auth_header(), timeout=30)),
    "text/plain POST (a form or no-cors fetch)": (415, lambda stack: requests.post(
        f"{stack.ui_url}/graphql", data=LAUNCH_AS_JSON,
        headers={**stack.auth_header(), "Content-Type": "text/plain", "Origin": stack.ui_url}, timeout=30)),
    "urlencoded form POST": (415, lambda stack: requests.post(
        f"{stack.ui_url}/graphql", data={"query": LAUNCH_SMOKE_JOB}, headers=stack.auth_header(), timeout=30)),
    "JSON POST from a foreign Origin": (403, lambda stack: requests.post(
        f"{stack.ui_url}/graphql", data=LAUNCH_AS_JSON,
        headers={**stack.auth_header(), "Content-Type": "application/json", "Origin": EVIL_ORIGIN}, timeout=30)),
    "JSON POST with a foreign Host (DNS rebinding)": (421, lambda stack: requests.post(
        f"{stack.ui_url}/graphql", data=LAUNCH_AS_JSON,
        headers={**stack.auth_header(), "Content-Type": "application/json", "Host": "evil.example"}, timeout=30)),
}


def test_the_ui_asks_for_a_login(stack):
    response = requests.get(stack.ui_url, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("who, url", [("nobody", "ui_url"), ("viewer", "ui_url"), ("nobody", "readonly_url")])
def test_graphql_without_the_right_login_is_refused_and_launches_nothing(stack, who, url):
    before = run_count(stack)
    headers = {} if who == "nobody" else stack.auth_header(who)
    response = requests.post(f"{getattr(stack, url)}/graphql", json={"query": LAUNCH_SMOKE_JOB}, headers=headers, timeout=30)
    assert response.status_code == 401
    assert run_count(stack) == before


@pytest.mark.parametrize("name", REFUSED_LAUNCHES)
def test_requests_a_foreign_page_could_send_are_refused_and_launch_nothing(stack, name):
    status, send = REFUSED_LAUNCHES[name]
    before = run_count(stack)
    response = send(stack)
    assert response.status_code == status, response.text
    assert response.text.startswith("Refused:"), response.text
    assert run_count(stack) == before


def test_a_json_post_with_the_login_launches(stack):
    before = run_count(stack)
    response = requests.post(
        f"{stack.ui_url}/graphql", data=LAUNCH_AS_JSON,
        headers={**stack.auth_header(), "Content-Type": "application/json", "Origin": stack.ui_url}, timeout=30,
    )
    launched = response.json()["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert run_count(stack) == before + 1
    assert stack.wait_for_run(launched["run"]["runId"]) == "SUCCESS"


def test_the_uis_websocket_subscriptions_pass(stack):
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.settings["DAGSTER_WEBSERVER_PORT"]), timeout=30)
    try:
        connection.request("GET", "/graphql", headers={
            **stack.auth_header(), "Origin": stack.ui_url, "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": "graphql-ws",
        })
        assert connection.getresponse().status == 101
    finally:
        connection.close()


def test_pages_may_not_be_framed_by_another_site(stack):
    headers = requests.get(stack.ui_url, headers=stack.auth_header(), timeout=30).headers
    assert headers["X-Frame-Options"] == "DENY"
    # requests joins repeated headers; the webserver sends a policy of its own as well.
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_readonly_ui_shows_runs_but_refuses_to_launch(stack):
    before = run_count(stack)
    assert stack.query(RUN_COUNT, who="viewer")["runsOrError"]["count"] == before
    launched = stack.post_graphql(LAUNCH_SMOKE_JOB, who="viewer").json()
    refusal = (launched.get("data") or {}).get("launchRun") or {}
    assert refusal.get("__typename") == "UnauthorizedError" or launched.get("errors"), launched
    assert run_count(stack) == before


def test_only_the_proxy_is_published(stack):
    services = stack.config()["services"]
    assert not services["webserver"].get("ports") and not services["webserver-readonly"].get("ports")
    published = {int(port["published"]) for port in services["proxy"]["ports"]}
    assert published == {int(stack.settings["DAGSTER_WEBSERVER_PORT"]), int(stack.settings["DAGSTER_READONLY_PORT"])}


def test_tls_serves_https_with_a_generated_self_signed_certificate(stack, tmp_path):
    # The stack's proxy image on its own, as DAGSTER_UI_TLS=on starts it: no certificate given.
    image = stack.config()["services"]["proxy"]["image"]
    environment = {
        "DAGSTER_UI_TLS": "on", "DAGSTER_UI_PASSWORD": "tls-test-operator", "DAGSTER_VIEWER_PASSWORD": "tls-test-viewer",
    }
    container = docker.from_env().containers.run(
        image, environment=environment, ports={"3000/tcp": ("127.0.0.1", None)}, detach=True, remove=True,
    )
    try:
        def published_port():
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("3000/tcp")
            return bindings and int(bindings[0]["HostPort"])

        port = wait_until("the TLS proxy's port", published_port, 30)

        def generated_certificate():
            result = container.exec_run(["cat", "/etc/dagster-proxy/tls/cert.pem"])
            return result.output if result.exit_code == 0 else None

        certificate = tmp_path / "cert.pem"

        def answer():
            # Read afresh each time: a certificate caught half-written would never verify.
            certificate.write_bytes(generated_certificate() or b"")
            try:
                # In a list: a Response is falsy unless 2xx, and the answer expected is a 401.
                return [requests.get(f"https://127.0.0.1:{port}/", verify=str(certificate), timeout=5)]
            except (requests.ConnectionError, OSError):
                return None

        (response,) = wait_until("an HTTPS answer", answer, 60)
        assert response.status_code == 401
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        plain = requests.get(f"http://127.0.0.1:{port}/graphql", allow_redirects=False, timeout=5)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    finally:
        container.stop(timeout=5)
