# One image per code location: the runtime image plus the location's own locked dependencies and
# code. The code server and every run launched from it use this image, as a non-root user.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
ARG LOCATION

COPY deploy/images/ca/ /tmp/ca/
COPY code_locations/${LOCATION}/requirements.lock /tmp/requirements.lock
RUN /opt/dagster/deploy/install-locked.sh /tmp/requirements.lock

COPY code_locations/${LOCATION}/ /opt/dagster/app/
RUN python -m compileall -q /opt/dagster/app
ENV PYTHONPATH=/opt/dagster/app:/opt/dagster/lib
USER dagster
