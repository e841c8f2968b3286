# syntax=docker/dockerfile:1
# The operator image: `attestor` as one static (musl) binary on distroless/static,
# which provides the CA certificates (/etc/ssl/certs, read by rustls-platform-verifier
# for https proof sources and key directories) and the nonroot user 65532.
#
#   docker build -t attestor:dev .
#   docker run --rm attestor:dev --version
#
# Built natively per platform (buildx runs the builder stage under the target platform).

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
# Only what the build reads (see .dockerignore).
COPY Cargo.toml Cargo.lock ./
COPY operator ./operator
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
 && cargo build --release --locked -p attestor --target "$target" \
 && install -D -m 0755 "target/$target/release/attestor" /out/attestor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/attestor /attestor
USER 65532:65532
ENTRYPOINT ["/attestor"]
CMD ["run"]
