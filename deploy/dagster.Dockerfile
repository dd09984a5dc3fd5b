# The Dagster image: the runtime plus the webserver's UI and GraphQL; runs the webserver, the
# daemon and the one-shot init jobs.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}

COPY deploy/ca/ /tmp/ca/
COPY deploy/requirements.lock /tmp/requirements.lock
RUN /opt/dagster/deploy/install-locked.sh /tmp/requirements.lock

COPY deploy/create_buckets.py deploy/drop.py deploy/prepare_database.py /opt/dagster/deploy/
