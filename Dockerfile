# syntax=docker/dockerfile:1
# Build: a static binary (no cgo) so the runtime image needs nothing but CA
# certificates for Stripe, AuthForge, Telegram and Discord.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/shopbot ./cmd/shopbot
# The store directory, copied below owned by distroless's nonroot user
# (65532): WORKDIR alone makes it root-owned under the classic builder, and
# the non-root shop could then not create its database.
RUN mkdir -p /out/store

# Run: distroless static, non-root. The store lives on a volume so orders
# survive container replacement; mount config.toml read-only at /etc/shopbot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shopbot /usr/local/bin/shopbot
COPY --from=build --chown=65532:65532 /out/store /var/lib/shopbot
USER nonroot:nonroot
WORKDIR /var/lib/shopbot
VOLUME ["/var/lib/shopbot"]
ENV SHOPBOT_CONFIG=/etc/shopbot/config.toml
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/shopbot"]
CMD ["run"]
