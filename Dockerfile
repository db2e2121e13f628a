# The eyetrack server as a container: a static binary on a distroless base,
# running as an unprivileged user, serving on $PORT with calibrations in
# the /data volume.
#
#   docker build -t eyetrack .
#   docker run -p 8080:8080 -v eyetrack-data:/data eyetrack

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo), without the load generator (a build tag it does not set).
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/eyetrack . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/eyetrack /eyetrack
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORT=8080 \
    CALIBRATION_STORE=/data \
    LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/eyetrack", "healthcheck"]
ENTRYPOINT ["/eyetrack"]
