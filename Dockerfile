# One image for every command: `registry serve` (default), `registry notifier`,
# `registry console`, `registry garbage-collect`, `registry deadletter`, `registry queues`.
#   docker build -t durable-registry .
#   docker run -p 5000:5000 durable-registry                      # registry, embedded broker
#   docker run durable-registry notifier /etc/registry/config.yml  # a notifier

# Build a wheel in a throwaway stage so the final image has neither the sources nor pip's cache.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 registry \
 && useradd --system --uid 10001 --gid registry --home-dir /var/lib/registry --shell /usr/sbin/nologin registry \
 && mkdir -p /var/lib/registry /etc/registry \
 && chown registry:registry /var/lib/registry
COPY deploy/image/config.yml /etc/registry/config.yml
USER 10001:10001
VOLUME ["/var/lib/registry"]

# 5000: the OCI Distribution API. 5001: /metrics and /debug/health (http.debug.addr), for both
# `serve` and `notifier`, so one health check fits both. No curl in the slim image: Python does it.
# 5002: the web console (`registry console`; its health check: REGISTRY_HEALTHCHECK_URL=
# http://127.0.0.1:5002/health).
EXPOSE 5000 5001 5002
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('REGISTRY_HEALTHCHECK_URL', 'http://127.0.0.1:5001/debug/health'), timeout=4)"]

ENTRYPOINT ["registry"]
CMD ["serve", "/etc/registry/config.yml"]
