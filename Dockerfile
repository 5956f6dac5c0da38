# syntax=docker/dockerfile:1
# Build: docker build -t handover-doctor .
# Run:   docker compose up   (RabbitMQ + the service; see README.md, "With RabbitMQ (docker compose)")
#
# The image listens on 0.0.0.0:8080, so it needs WEBHOOK_API_KEYS or WEBHOOK_SIGNING_SECRETS
# (or both) at run time: without either, `serve` refuses to start (exit 2) and its one log line
# names both variables. Secrets come from the environment only; none is baked into the image
# (.dockerignore keeps .env out of the build context).

# The toolchain the lockfile is tested with. Edition 2024 and lockfile v4 need Rust 1.85 or
# later; Cargo.toml's rust-version asks for 1.89.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them. Cargo refuses a manifest
# whose declared targets are missing, the [[example]]s included (even behind
# required-features), so examples/ comes in now and src/ gets stubs.
COPY Cargo.toml Cargo.lock ./
COPY examples ./examples
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
# COPY keeps the sources' own mtimes, which may be older than the stub build: touching the
# crate roots makes cargo rebuild the crate itself (the dependencies stay cached).
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# Same Debian release as the build image, so the binary's glibc matches.
FROM debian:bookworm-slim
# reqwest and lapin verify TLS against the system trust store (rustls-platform-verifier):
# without ca-certificates no HTTPS call to CXone, Slack or Teams (nor amqps://) can succeed.
# bash stays in the image (Debian's essential set): the compose healthcheck uses its /dev/tcp.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 handover \
    && useradd --system --uid 10001 --gid handover --no-create-home \
        --shell /usr/sbin/nologin handover
COPY --from=build /src/target/release/handover-doctor /usr/local/bin/handover-doctor
COPY fixtures/webhooks /usr/share/handover-doctor/fixtures/webhooks
# The working directory is where `.env` would be read from: none is there, the environment
# is the configuration. It also makes `handover-doctor replay fixtures/webhooks` work inside
# the container.
WORKDIR /usr/share/handover-doctor
# Numeric, so an orchestrator can check runAsNonRoot.
USER 10001:10001
ENV LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    RUST_LOG=info
EXPOSE 8080
# SIGTERM (docker stop) makes it drain: in-flight requests and jobs finish, confirms are
# awaited. Give it the time (compose: stop_grace_period).
ENTRYPOINT ["handover-doctor"]
CMD ["serve", "--role", "all"]
