# syntax=docker/dockerfile:1
# The user-code image: market_assets with its locked environment. It serves the
# code location over gRPC (the webserver and daemon load it from here), runs the
# run workers that the code server launches, and the Celery workers.
# Build from the repository root:
#   docker build -f deploy/user-code.Dockerfile -t market-assets-user-code .
# (deploy/user-code.Dockerfile.dockerignore keeps .venv, var/ and .git out of the context.)
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
# The locked dependencies first (a layer that changes only with uv.lock), then the project.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY market_assets ./market_assets
RUN uv sync --frozen --no-dev

# The production instance and the Celery worker config; writable homes for the
# instance's local storage (compute logs), the market data and small caches.
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/celery.yaml /opt/dagster/celery.yaml
RUN mkdir -p /opt/dagster/home/storage /data /opt/market_assets/var \
    && chown -R dagster:dagster /opt/dagster /data /opt/market_assets/var

USER dagster
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "market_assets.definitions", "-h", "0.0.0.0", "-p", "4000"]
