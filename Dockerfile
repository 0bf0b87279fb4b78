# syntax=docker/dockerfile:1
# praisonai-svc from this repository + one service directory (default: the PPT example) in one image.
#
#   docker build -t ppt .                                        # or: --build-arg SERVICE_DIR=path/to/service
#   docker run -p 8080:8080 -e PRAISONAI_AZURE_STORAGE_CONNECTION_STRING=... ppt          # the API
#   docker run -e PRAISONAI_AZURE_STORAGE_CONNECTION_STRING=... ppt worker                # the worker
#   (equivalently: docker run --entrypoint python ppt -m praisonai_svc.worker)
#
# `praisonai-svc deploy azure` builds an image like this one in Azure (az acr build) and runs it twice: as the API
# app (args: api) and as the separate worker app (args: worker). The service's own directory, made by
# `praisonai-svc new`, has the same Dockerfile without the build-from-source step.

ARG PYTHON_VERSION=3.11

# --- build: a virtualenv with the package, the service's requirements and optional extras ---------------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /venv/bin/pip install ".[azure]"
ARG SERVICE_DIR=examples/ppt-service
COPY ${SERVICE_DIR}/requirements.txt /tmp/service-requirements.txt
RUN /venv/bin/pip install -r /tmp/service-requirements.txt
# e.g. "praisonai-svc[azure-monitor]" for Application Insights (deploy azure --app-insights passes it)
ARG EXTRA_PIP_PACKAGES=""
RUN if [ -n "$EXTRA_PIP_PACKAGES" ]; then /venv/bin/pip install $EXTRA_PIP_PACKAGES; fi

# --- runtime: slim, no compilers, not root ---------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /venv /venv
ARG SERVICE_DIR=examples/ppt-service
COPY --chown=10001:10001 ${SERVICE_DIR}/ /app/
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PRAISONAI_APP=/app/handlers.py \
    PRAISONAI_HOST=0.0.0.0 \
    PRAISONAI_PORT=8080 \
    PRAISONAI_LOG_FORMAT=json \
    PRAISONAI_DATA_DIR=/app/.praisonai
USER 10001:10001
EXPOSE 8080
# GET /live for the API; a worker passes while its process runs (or checks its --metrics-port when set).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "praisonai_svc.healthcheck"]
ENTRYPOINT ["praisonai-svc"]
CMD ["api"]
