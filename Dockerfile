# Multi-stage build: compile with the Rust toolchain, ship a slim runtime with a non-root user.
# TLS is rustls (ring); the image needs CA certificates for feed fetches, never OpenSSL.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Compiled in: source, embedded schemas, the shipped rules and feed definitions, UI templates.
COPY src ./src
COPY benches ./benches
COPY config ./config
COPY feeds ./feeds
COPY templates ./templates
RUN cargo build --release --locked --bin soupwatch

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/soupwatch --shell /usr/sbin/nologin soupwatch \
 && mkdir -p /var/lib/soupwatch /usr/share/soupwatch \
 && chown soupwatch:soupwatch /var/lib/soupwatch
COPY --from=build /src/target/release/soupwatch /usr/local/bin/soupwatch
COPY config /usr/share/soupwatch/config
COPY feeds /usr/share/soupwatch/feeds
WORKDIR /usr/share/soupwatch
USER soupwatch
VOLUME ["/var/lib/soupwatch"]
EXPOSE 8080
# Listen on all interfaces inside the container; publish the port deliberately.
ENTRYPOINT ["/usr/local/bin/soupwatch"]
CMD ["serve", "--config", "/usr/share/soupwatch/config/soupwatch.toml", "--data", "/var/lib/soupwatch", "--listen", "0.0.0.0:8080"]
