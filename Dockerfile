# Two stages: gluonnlp 0.10 compiles a Cython extension, so the compiler stays in the build stage.
# GPU image: docker compose --profile gpu build (MXNET_PACKAGE=mxnet-cu112==1.9.1).
FROM python:3.11-slim AS build
ARG MXNET_PACKAGE=mxnet==1.9.1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt constraints.txt ./
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN pip install -c constraints.txt setuptools wheel Cython numpy \
 && pip install -c constraints.txt --no-build-isolation gluonnlp \
 && pip install -c constraints.txt -r requirements.txt \
 && if [ "$MXNET_PACKAGE" != "mxnet==1.9.1" ]; then \
      pip uninstall -y mxnet && pip install "$MXNET_PACKAGE" "numpy==1.23.5"; \
    fi

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libquadmath0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app sentiment ./sentiment
COPY --chown=app:app service ./service
COPY --chown=app:app data ./data
RUN mkdir -p /app/models && chown app:app /app/models /app/data
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    SENTIMENT_BIND=0.0.0.0:8000 SENTIMENT_MODEL=/app/models/default
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"]
CMD ["gunicorn", "-c", "service/gunicorn.conf.py", "service.wsgi:app"]
