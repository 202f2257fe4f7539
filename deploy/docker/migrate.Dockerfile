# syntax=docker/dockerfile:1
# One-shot image that applies every service's database migrations
# (`python -m annotary_common.migrate`), used by docker-compose's "migrate" service.
# Build from the repository root:
#   docker build -f deploy/docker/migrate.Dockerfile -t annotary-migrate .
# The services are installed without their own dependencies: only their SQL migrations
# (package data) are read, never their code.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY libs/ libs/
COPY services/annotation-api/pyproject.toml services/annotation-api/pyproject.toml
COPY services/annotation-api/src/ services/annotation-api/src/
COPY services/orchestrator/pyproject.toml services/orchestrator/pyproject.toml
COPY services/orchestrator/src/ services/orchestrator/src/
COPY services/qa/pyproject.toml services/qa/pyproject.toml
COPY services/qa/src/ services/qa/src/
COPY services/ingest/pyproject.toml services/ingest/pyproject.toml
COPY services/ingest/src/ services/ingest/src/
COPY services/export/pyproject.toml services/export/pyproject.toml
COPY services/export/src/ services/export/src/
COPY services/preannotate/pyproject.toml services/preannotate/pyproject.toml
COPY services/preannotate/src/ services/preannotate/src/
RUN pip install ./libs/annotary-proto ./libs/annotary-common \
 && pip install --no-deps ./services/annotation-api ./services/orchestrator ./services/qa \
    ./services/ingest ./services/export ./services/preannotate

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 annotary \
 && useradd --system --uid 10001 --gid annotary --home-dir /home/annotary --create-home annotary
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/annotary
CMD ["python", "-m", "annotary_common.migrate"]
