# The SyncWatch image: the collector (`syncwatch serve`, the default command) and the operations console
# (`syncwatch dashboard`) run from it; compose.yaml starts both.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY syncwatch/ syncwatch/
COPY collector/ collector/
COPY metrics/ metrics/
COPY probes/ probes/
COPY alerts/ alerts/
COPY dashboard/ dashboard/
COPY simulator/ simulator/
RUN pip install . && rm -rf /src

# Not root: the spool and the local admin credential live in the var directory, which only this user reads.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/syncwatch syncwatch
USER syncwatch
WORKDIR /var/lib/syncwatch

# Listen on every interface inside the container; the compose network and its published ports decide who reaches it.
ENV SYNCWATCH_HOST=0.0.0.0 \
    SYNCWATCH_VAR_DIR=/var/lib/syncwatch
EXPOSE 4318 8501
CMD ["syncwatch", "serve"]
