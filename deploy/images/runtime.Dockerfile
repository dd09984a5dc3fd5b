# The runtime image: Python, dagster and its Postgres, Docker and S3 plumbing, the stack's shared
# library and instance config. Code-location images (so every run worker) and the Dagster image
# (webserver, daemon) both start FROM it; the UI's packages live only in the latter.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    PYTHONPATH=/opt/dagster/lib \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

COPY deploy/images/ca/ /tmp/ca/
COPY deploy/images/install-locked.sh /opt/dagster/deploy/
COPY deploy/images/runtime.lock /tmp/runtime.lock
RUN python -m venv --without-pip /opt/venv \
 && /opt/dagster/deploy/install-locked.sh /tmp/runtime.lock

RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin dagster \
 && mkdir -p "$DAGSTER_HOME" /opt/dagster/app \
 && chown dagster:dagster "$DAGSTER_HOME"

COPY lib/ /opt/dagster/lib/
RUN python -m compileall -q /opt/dagster/lib
# The workspace is not in the image: compose mounts it into the webservers and the daemon, so a
# new location builds only its own image (docker-compose.yml, x-workspace-reader).
COPY dagster.yaml /opt/dagster/home/
COPY deploy/dagster/grpc-health-check.py deploy/dagster/http-health-check.sh deploy/dagster/wait-for-code-servers.py \
  deploy/janitor/run-janitor.py \
  deploy/docker-proxy/docker-socket-proxy.py /opt/dagster/deploy/
WORKDIR /opt/dagster/app
