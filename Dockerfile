# syntax=docker/dockerfile:1
# Build: docker build -t handover-doctor .
# Run:   docker compose up   (RabbitMQ + the service; see README.md)

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
# reqwest verifies TLS against the system trust store (rustls-platform-verifier):
# without ca-certificates no HTTPS call to CXone, Slack or Teams can succeed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home handover
COPY --from=build /src/target/release/handover-doctor /usr/local/bin/handover-doctor
COPY fixtures/webhooks /usr/share/handover-doctor/fixtures/webhooks
USER handover
ENV LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    RUST_LOG=info
EXPOSE 8080
ENTRYPOINT ["handover-doctor"]
CMD ["serve", "--role", "all"]
