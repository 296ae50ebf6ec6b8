# SPDX-License-Identifier: Apache-2.0
# Static binary on distroless: no shell, no libc, runs as nonroot (65532).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/bulwarkai/bulwark/internal/version.Version=${VERSION}" \
      -o /out/bulwark ./cmd/bulwark

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bulwark /usr/local/bin/bulwark
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/bulwark"]
CMD ["serve", "--help"]
