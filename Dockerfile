# The image of every service of docker-compose.yml: the suite installed by
# the same scripts/setup as on a developer machine.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git npm postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/suite
COPY . .
# No signing key in the image: each deployment passes its own
RUN PYTHON=python3 scripts/setup && rm -f var/jwt_secret
ENV TRYTOND_CONFIG=/srv/suite/tryton.conf \
    TRYTOND_WEB__ROOT=/srv/suite/var/sao \
    TRYTOND_DATABASE__PATH=/srv/suite/var/db
EXPOSE 8000
ENTRYPOINT ["scripts/service"]
