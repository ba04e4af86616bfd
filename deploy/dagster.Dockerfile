# syntax=docker/dockerfile:1
# The webserver/daemon image: Dagster from the same uv.lock as the user code (one
# version of every dagster-* package). The webserver and the daemon reach the code
# location over gRPC (deploy/workspace.docker.yaml) and never load its definitions;
# the package is installed for the instance storage deploy/dagster.yaml names
# (market_assets.instance_storage: they create runs, and so write their planned
# events). The compose file also runs the MLflow tracking server from this image
# (mlflow and psycopg2 are locked dependencies).
# Build from the repository root:
#   docker build -f deploy/dagster.Dockerfile -t market-assets-dagster .
FROM python:3.11-slim

ARG UV_VERSION=0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/market_assets/.venv \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home \
    PATH=/opt/market_assets/.venv/bin:$PATH

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && useradd --create-home --uid 10001 --user-group dagster

WORKDIR /opt/market_assets
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY market_assets ./market_assets
RUN uv sync --frozen --no-dev

COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.docker.yaml /opt/dagster/home/workspace.yaml
RUN mkdir -p /opt/dagster/home/storage /opt/dagster/mlartifacts \
    && chown -R dagster:dagster /opt/dagster

USER dagster
EXPOSE 3000
# Loopback unless told otherwise: the UI has no authentication. The compose file and the
# Helm chart bind it on their internal network only, behind an authenticating proxy.
CMD ["dagster-webserver", "-h", "127.0.0.1", "-p", "3000", "-w", "/opt/dagster/home/workspace.yaml"]
