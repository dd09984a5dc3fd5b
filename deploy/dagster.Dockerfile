# The Dagster image: runs the webserver, the daemon and the one-shot init jobs, and is the base
# of every code-location image (so run workers get the same dagster, storage and launcher code).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# An extra CA bundle (a TLS-inspecting proxy's) is trusted for this install only, when one is given.
COPY deploy/ca/ /tmp/ca/
COPY deploy/requirements.lock /tmp/requirements.lock
RUN if [ -s /tmp/ca/extra-ca.pem ]; then export PIP_CERT=/tmp/ca/extra-ca.pem; fi \
 && python -m venv /opt/venv \
 && pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
      -r /tmp/requirements.lock \
 && rm -rf /tmp/ca /tmp/requirements.lock

RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin dagster \
 && mkdir -p "$DAGSTER_HOME" /opt/dagster/app \
 && chown dagster:dagster "$DAGSTER_HOME"

COPY dagster.yaml workspace.yaml /opt/dagster/home/
COPY deploy/cached-check deploy/create_buckets.py deploy/drop.py deploy/prepare_database.py deploy/prune_run_containers.py /opt/dagster/deploy/
WORKDIR /opt/dagster/app
