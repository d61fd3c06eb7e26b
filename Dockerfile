# The Baton function images, one target per Cloud Run service:
#
#   executor, scheduler, api      the functions/ binaries of the same name
#   worker-core, worker-gcp       the `worker` binary (group from BATON_WORKER_GROUP)
#   worker-scripts                + bash, wget, curl, python3, gzip for script tasks
#   worker-jdbc                   + libduckdb, the worker built with the DuckDB tasks
#
# Every binary is compiled once, in the `build` stage (cloudbuild.yaml builds
# that stage first; the image targets reuse its layers). Final images are
# distroless (glibc, libgcc, libstdc++, CA certificates, no shell) or Debian
# slim for the scripts worker, and run as a non-root user. Cloud Run sets
# PORT; the binaries listen on it.
#
#   docker build --target worker-core -t worker-core .

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# --- libduckdb from the npm package scripts/setup/duckdb.sh pins (no C++ build)
FROM node:22-bookworm-slim AS duckdb
WORKDIR /src
COPY scripts/setup/duckdb.sh scripts/setup/duckdb.sh
RUN bash -c 'set -euo pipefail; source scripts/setup/duckdb.sh; test -f .cache/duckdb/libduckdb.so' \
    && mkdir -p /opt/duckdb \
    && cp .cache/duckdb/libduckdb.so /opt/duckdb/libduckdb.so

# --- every function binary, once
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# the dist profile: fat LTO, one codegen unit, stripped (README, Performance)
RUN cargo build --profile dist --locked -p functions --bin executor --bin scheduler --bin worker --bin api \
    && mkdir -p /out \
    && cp target/dist/executor target/dist/scheduler target/dist/worker target/dist/api /out/

# --- the worker again, with the DuckDB tasks linked to libduckdb (rpath
# /opt/duckdb, set by shared/build.rs from DUCKDB_LIB_DIR); only the crates
# the feature changes are rebuilt
FROM build AS build-duckdb
COPY --from=duckdb /opt/duckdb/libduckdb.so /opt/duckdb/libduckdb.so
ENV DUCKDB_LIB_DIR=/opt/duckdb
RUN cargo build --profile dist --locked -p functions --bin worker --features shared/duckdb \
    && cp target/dist/worker /out/worker-duckdb

# --- the base of the distroless images
FROM ${RUNTIME_IMAGE} AS runtime
ENV RUST_LOG=info
# mimalloc commits arena memory on use (the arena made before `main` too: see shared/allocator)
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
USER nonroot:nonroot

FROM runtime AS executor
COPY --from=build /out/executor /usr/local/bin/executor
ENTRYPOINT ["/usr/local/bin/executor"]

FROM runtime AS scheduler
COPY --from=build /out/scheduler /usr/local/bin/scheduler
ENTRYPOINT ["/usr/local/bin/scheduler"]

FROM runtime AS api
COPY --from=build /out/api /usr/local/bin/api
ENTRYPOINT ["/usr/local/bin/api"]

FROM runtime AS worker-core
ENV BATON_WORKER_GROUP=core
COPY --from=build /out/worker /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]

FROM runtime AS worker-gcp
ENV BATON_WORKER_GROUP=gcp
COPY --from=build /out/worker /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]

FROM runtime AS worker-jdbc
ENV BATON_WORKER_GROUP=jdbc
# the worker's rpath names /opt/duckdb (DUCKDB_LIB_DIR at build time:
# shared/build.rs hands it to functions/build.rs)
COPY --from=duckdb /opt/duckdb/libduckdb.so /opt/duckdb/libduckdb.so
COPY --from=build-duckdb /out/worker-duckdb /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]

# --- script tasks run real commands: a shell, downloads, Python
FROM debian:bookworm-slim AS worker-scripts
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        bash ca-certificates curl gzip python3 python3-pip python3-venv wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --create-home --home-dir /home/baton --shell /bin/bash baton
ENV BATON_WORKER_GROUP=scripts RUST_LOG=info HOME=/home/baton
COPY --from=build /out/worker /usr/local/bin/worker
USER 65532:65532
WORKDIR /home/baton
ENTRYPOINT ["/usr/local/bin/worker"]

# --- dbt tasks (io.kestra.plugin.dbt.cli.*): the scripts image with dbt-core
# and the adapters the seed projects use, on the PATH, so DbtCLI runs dbt as
# installed here instead of building a virtualenv at each cold start
FROM worker-scripts AS worker-dbt
USER root
# the same pins as the virtualenv fallback (shared/src/plugins/dbt/venv.rs)
RUN python3 -m venv /opt/dbt \
    && /opt/dbt/bin/pip install --no-cache-dir "dbt-core>=1.11,<1.12" "dbt-postgres>=1.11,<1.12" \
        "dbt-bigquery>=1.11,<1.12" "dbt-duckdb>=1.11,<1.12" \
    && /opt/dbt/bin/dbt --version
ENV BATON_WORKER_GROUP=dbt PATH=/opt/dbt/bin:$PATH
USER 65532:65532
