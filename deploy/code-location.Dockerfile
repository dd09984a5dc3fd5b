# One image per code location: the runtime image plus the location's own locked dependencies and
# code. The code server and every run launched from it use this image, as a non-root user.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
ARG LOCATION
# Where the location's folder is: code_locations/<name>, or tests/diagnostics for the test stacks'.
ARG LOCATION_DIR=code_locations/${LOCATION}

COPY deploy/ca/ /tmp/ca/
COPY ${LOCATION_DIR}/requirements.lock /tmp/requirements.lock
RUN /opt/dagster/deploy/install-locked.sh /tmp/requirements.lock

COPY ${LOCATION_DIR}/ /opt/dagster/app/
RUN python -m compileall -q /opt/dagster/app
ENV PYTHONPATH=/opt/dagster/app:/opt/dagster/lib
USER dagster
