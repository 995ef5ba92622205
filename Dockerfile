# syntax=docker/dockerfile:1
#
# meetbot: one static binary on a distroless, non-root image.
#
#   docker build -t meetbot .
#   docker run --env-file .env -p 8080:8080 -v meetbot-data:/data meetbot
#
# /data must be writable by uid 65532: a named volume (as above) is prepared for it; a host folder
# needs `chown 65532:65532` first, or the bot stops at start with a line saying so.
#
# No container engine runs where this file was written, so it has not been built there: it is kept
# to the plain steps below. Several replicas on PostgreSQL: deploy/compose.yaml.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a change to the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go throughout: modernc SQLite, pgx, and goolm for Matrix encryption (no libolm, no cgo).
RUN CGO_ENABLED=0 go build -tags goolm -trimpath -ldflags='-s -w' -o /out/bot ./cmd/bot \
	&& mkdir -p /out/data

# distroless/static carries CA certificates (HTTPS to Slack, Matrix and the platform), the time
# zone database (schedules in the channel's zone) and the nonroot user (65532); no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bot /bot
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /
# SQLite and Matrix encryption state live under /data unless STORE_URL points at PostgreSQL.
ENV STORE_URL=sqlite:/data/meetbot.db \
	MATRIX_DATA_DIR=/data \
	HTTP_ADDR=:8080
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
# The image has no shell or curl: the bot probes its own /healthz on HTTP_ADDR.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/bot", "healthcheck"]
ENTRYPOINT ["/bot"]
CMD ["run"]
