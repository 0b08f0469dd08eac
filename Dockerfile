# syntax=docker/dockerfile:1
#
# signon-token-bot's image: a static Go binary on a distroless base that
# has no shell, no package manager and a non-root user.
#
#   docker build --build-arg VERSION=v1.2.3 -t signon-token-bot .
#
# Base images are pinned by tag. Their digests could not be checked where
# this file was written (no registry access), and a digest copied without
# checking is worse than none. Pin them when you build:
#   docker buildx imagetools inspect golang:1.26.8-bookworm
# then pass --build-arg GO_IMAGE=golang:1.26.8-bookworm@sha256:... (and the
# same for RUNTIME_IMAGE), or write the digests in here.
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ENV GOTOOLCHAIN=local
WORKDIR /src
# Modules first: this layer survives edits to the code.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The one build command, shared with the test that checks its output.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH sh scripts/build-bot.sh /out/signon-token-bot "$VERSION"

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/signon-token-bot /signon-token-bot
# distroless's nonroot user, by number so that Kubernetes' runAsNonRoot can
# check it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
# Exec form: there is no shell to run a command string.
ENTRYPOINT ["/signon-token-bot"]
CMD ["serve"]
