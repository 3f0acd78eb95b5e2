# syntax=docker/dockerfile:1.7
# One build, three small images: `docker build --target command-service -t tally/command-service .`
# (likewise projector, query-service). Each runtime image holds only its binary on
# distroless/cc (glibc and libgcc, no shell, no package manager) and runs as the
# numeric non-root user 65532, which the Kubernetes manifests also require.

# The toolchain the project is built and tested with (Cargo.toml's rust-version is the floor).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
# cmake builds the bundled librdkafka (rdkafka's cmake-build feature), whose sources
# include curl's headers even with curl off (scripts/bootstrap.sh says why); protoc is
# not needed (protox compiles the .proto files in Rust). Not version-pinned: the
# bookworm base fixes the Debian release, whose updates are security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binaries are
# copied out because the cached target dir is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p tally-command-service -p tally-projector -p tally-query-service --bins \
    && mkdir -p /out \
    && cp target/release/command-service target/release/projector target/release/query-service /out/

# Same Debian release as the builder, so the glibc the binaries link against is there.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
USER 65532:65532
ENV TALLY_SERVER__HOST=0.0.0.0

FROM runtime AS command-service
COPY --from=builder /out/command-service /usr/local/bin/command-service
EXPOSE 8080
# Kubernetes probes the gRPC health service; the image has no shell for a HEALTHCHECK.
#checkov:skip=CKV_DOCKER_2:health is checked by Kubernetes' native gRPC/HTTP probes
ENTRYPOINT ["/usr/local/bin/command-service"]
CMD ["serve"]

FROM runtime AS query-service
COPY --from=builder /out/query-service /usr/local/bin/query-service
EXPOSE 8081
#checkov:skip=CKV_DOCKER_2:health is checked by Kubernetes' native gRPC/HTTP probes
ENTRYPOINT ["/usr/local/bin/query-service"]
CMD ["serve"]

FROM runtime AS projector
COPY --from=builder /out/projector /usr/local/bin/projector
EXPOSE 8082
#checkov:skip=CKV_DOCKER_2:health is checked by Kubernetes' native gRPC/HTTP probes
ENTRYPOINT ["/usr/local/bin/projector"]
CMD ["run"]
