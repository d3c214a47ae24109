# The SyncWatch image: the collector (`syncwatch serve`, the default command) and the operations console
# (`syncwatch dashboard`) run from it; compose.yaml starts both.
# The base is pinned by digest (the multi-platform index the Docker Official Images record for this tag), so every
# build starts from the same bytes; docs/deployment.md says how to move it to a newer build.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Pango and a font: WeasyPrint lays out the weekly report's PDF with them (docs/report.md).
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
# The product's pinned, hashed dependencies first: this layer is reused until the lock changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY syncwatch/ syncwatch/
COPY collector/ collector/
COPY metrics/ metrics/
COPY probes/ probes/
COPY alerts/ alerts/
COPY dashboard/ dashboard/
COPY simulator/ simulator/
COPY reports/ reports/
COPY cases/ cases/
# Nothing more from the index: the dependencies are in, and the image's own setuptools builds the package.
RUN pip install --no-deps --no-build-isolation . && rm -rf /src

# Not root: the spool and the local admin credential live in the var directory, which only this user reads.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/syncwatch syncwatch
USER syncwatch
WORKDIR /var/lib/syncwatch

# Listen on every interface inside the container; the compose network and its published ports decide who reaches it.
ENV SYNCWATCH_HOST=0.0.0.0 \
    SYNCWATCH_VAR_DIR=/var/lib/syncwatch
EXPOSE 4318 8501
CMD ["syncwatch", "serve"]
