# Stand-in for postgres:15-bookworm: Debian 12's PostgreSQL 15 behind an entrypoint that honours the
# official image's contract (POSTGRES_USER/PASSWORD/DB, /docker-entrypoint-initdb.d, PGDATA, pg_isready).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
# postgresql-common depends on ssl-cert, whose install generates a "snakeoil" key pair (and a hash
# link to its certificate): a private key baked into the image, the same in every container. It goes
# in this same layer (a later RUN would leave it in this one). Nothing uses it: the entrypoint's
# initdb leaves ssl off, and the database is only reachable on the stack's own Docker network.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem \
 && find /etc/ssl/certs -lname ssl-cert-snakeoil.pem -delete \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
RUN mkdir -p /docker-entrypoint-initdb.d "$PGDATA" /var/run/postgresql \
 && chown -R postgres:postgres "$PGDATA" /var/run/postgresql
COPY postgres/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
