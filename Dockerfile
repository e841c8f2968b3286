# syntax=docker/dockerfile:1
# The operator image: `attestor` as one static (musl) binary on an empty (scratch) base,
# with the filesystem of e2e/image/operator.rootfs: Debian's CA certificates (read by
# rustls-platform-verifier for https proof sources and key directories), /etc/passwd and
# /etc/group with the nonroot user 65532, its home, /tmp. `make image` (e2e/image.sh)
# assembles the same filesystem without a container engine; `e2e/image.sh check` on
# `docker save` output proves the two agree (the e2e-kind CI job runs it).
#
#   docker build -t attestor:dev .
#   docker run --rm attestor:dev --version
#
# Built natively per platform (buildx runs the builder stage under the target platform).

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
# Only what the build reads (see .dockerignore).
COPY Cargo.toml Cargo.lock ./
COPY operator ./operator
COPY e2e/image ./e2e/image
# As e2e/image.sh: no line tables (CARGO_PROFILE_RELEASE_DEBUG=false), and --strip-debug
# for what the standard library brings; the symbols stay (backtraces name functions).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
 && CARGO_PROFILE_RELEASE_DEBUG=false cargo build --release --locked -p attestor --target "$target" \
 && mkdir /out \
 && objcopy --strip-debug "target/$target/release/attestor" /out/attestor
# Lay out e2e/image/operator.rootfs ("d PATH MODE UID GID" / "f PATH MODE UID GID SOURCE").
RUN set -eu; mkdir /rootfs; \
    while read -r typ path mode uid gid src; do \
      case "$typ" in ''|'#'*) continue ;; esac; \
      case "$src" in \
        '{attestor}') src=/out/attestor ;; \
        '{ca-certificates}') src=/etc/ssl/certs/ca-certificates.crt ;; \
        '') ;; \
        *) src="e2e/image/$src" ;; \
      esac; \
      if [ "$typ" = d ]; then mkdir "/rootfs$path"; else cp "$src" "/rootfs$path"; fi; \
      chown "$uid:$gid" "/rootfs$path"; chmod "$mode" "/rootfs$path"; \
    done < e2e/image/operator.rootfs

FROM scratch
# COPY --from keeps the owners and modes set above.
COPY --from=builder /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/attestor"]
CMD ["run"]
