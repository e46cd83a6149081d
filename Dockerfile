# jtl-automator in one image: the flows, the CLI and the event gateway, with the Prefect server and worker
# that come with Prefect. compose.yaml runs the same image as server, workers, setup and gateway, so every
# part has the versions pyproject.toml pins (docs/production.md).
#
#   docker build -t jtl-automator .
#
# Any Debian-based image with Python 3.11+ and its venv module works as the base (BASE_IMAGE).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    JTL_AUTOMATOR_HOME=/opt/jtl-automator \
    PREFECT_HOME=/home/jtl/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

# An unprivileged user runs everything; the code belongs to root and cannot be changed by it.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin jtl \
    && python3 -m venv "$VIRTUAL_ENV"

# The core package and its dependencies, from the project's own files (this layer changes only with them).
COPY pyproject.toml README.md LICENSE /tmp/src/
COPY jtl_automator /tmp/src/jtl_automator
RUN pip install /tmp/src && rm -rf /tmp/src

# The Prefect shell and the configuration are loaded from JTL_AUTOMATOR_HOME, the deployments' working
# directory (prefect.yaml's pull step); out/ is where the flows write their workbooks (a volume).
WORKDIR /opt/jtl-automator
COPY prefect.yaml ./
COPY flows ./flows
COPY tasks ./tasks
COPY blocks ./blocks
COPY deployments ./deployments
COPY config ./config
# The import check runs with a throwaway PREFECT_HOME: Prefect creates its home on import, and one made
# by root here would be unwritable for jtl.
RUN mkdir out && chown jtl:jtl out \
    && PREFECT_HOME=/tmp/prefect-build python -c "import sys; sys.path.insert(0, '.'); import flows.order_processing, deployments.stack" \
    && rm -rf /tmp/prefect-build

USER jtl
# 4200: the Prefect API and UI (never published without auth); 8787: the gateway (behind a TLS proxy).
EXPOSE 4200 8787
CMD ["jtl-automator", "--help"]
