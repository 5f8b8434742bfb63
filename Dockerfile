# Multi-stage build of every sigstack service binary. Used by docker-compose.yml.
#   docker build -t sigstack .
FROM rust:1.88-bookworm AS build
# RocksDB (librocksdb-sys) needs clang for bindgen.
RUN apt-get update && apt-get install -y --no-install-recommends libclang-dev clang \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
    && mkdir /out \
    && cp target/release/rekor-server target/release/fulcio target/release/ctlog-server \
          target/release/tuf-root target/release/oidc-dev target/release/timestamp-server /out/

FROM debian:bookworm-slim
# curl: health checks; openssl: deriving the CT log public key; softhsm2: PKCS#11 keys.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl openssl softhsm2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data sigstack
COPY --from=build /out/ /usr/local/bin/
USER sigstack
