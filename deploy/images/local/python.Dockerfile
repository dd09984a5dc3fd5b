# Stand-in for python:3.11-slim-bookworm: Debian 12's own Python 3.11 with venv support.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python-is-python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
ENV LANG=C.UTF-8
CMD ["python3"]
