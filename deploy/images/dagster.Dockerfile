# The Dagster image: the runtime plus the webserver's UI and GraphQL; runs the webserver, the
# daemon and the one-shot init jobs.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}

COPY deploy/images/ca/ /tmp/ca/
COPY deploy/images/dagster.lock /tmp/requirements.lock
RUN /opt/dagster/deploy/install-locked.sh /tmp/requirements.lock

COPY deploy/s3/create-buckets.py deploy/s3/drop.py deploy/postgres/prepare-database.py deploy/dagster/dev-reloader.py \
  deploy/dagster/daemon-health-check.py deploy/metrics/metrics-exporter.py /opt/dagster/deploy/
