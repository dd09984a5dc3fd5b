# The Dagster image: the runtime plus the webserver's UI and GraphQL; runs the webserver, the
# daemon and the one-shot init jobs.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}

COPY deploy/ca/ /tmp/ca/
COPY deploy/requirements.lock /tmp/requirements.lock
RUN if [ -s /tmp/ca/extra-ca.pem ]; then export PIP_CERT=/tmp/ca/extra-ca.pem; fi \
 && pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps -r /tmp/requirements.lock \
 && rm -rf /tmp/ca /tmp/requirements.lock

COPY deploy/create_buckets.py deploy/drop.py deploy/prepare_database.py /opt/dagster/deploy/
