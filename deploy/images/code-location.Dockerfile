# One image per code location: the runtime image plus the location's own locked dependencies and
# code. The code server and every run launched from it use this image, as a non-root user.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
ARG LOCATION

COPY deploy/images/ca/ /tmp/ca/
COPY code_locations/${LOCATION}/requirements.lock /tmp/requirements.lock
RUN /opt/dagster/deploy/install-locked.sh /tmp/requirements.lock

# Everything that does not follow the code comes before it: a rebuild after an edit (make reload)
# makes only the layers from COPY on.
ENV PYTHONPATH=/opt/dagster/app:/opt/dagster/lib
COPY code_locations/${LOCATION}/ /opt/dagster/app/
RUN python -m compileall -q /opt/dagster/app
USER dagster
