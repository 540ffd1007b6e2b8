# mlplane's container image: `mlplane server` by default, and the image whose
# `mlplane` binary the Kubernetes objects rendered by `mlplane k8s render` run
# (docs/kubernetes.md).
#
#   docker build -t ghcr.io/mlplane/mlplane:0.1.0 .
#   docker run --rm ghcr.io/mlplane/mlplane:0.1.0 --version
#   docker run --rm -p 5000:5000 -v mlplane-home:/var/lib/mlplane ghcr.io/mlplane/mlplane:0.1.0
#
# Two stages on Debian 12 (bookworm), built from Debian packages only (no
# other downloads): the build stage installs the -dev packages of the Makefile's
# DEB_PKGS and builds with CMake (Release); the runtime stage has only the shared
# libraries the binary links (tests/integration/docker_image.sh checks that list
# against the binary; GSL's libgsl27 and libgslcblas0 and libcsv3 are
# src/monitor's: drift statistics and CSV tables), tini as PID 1, and a non-root user.

ARG DEBIAN_IMAGE=debian:bookworm
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim

# ---- build ----------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libfyaml-dev libjansson-dev libsqlite3-dev libxgboost-dev libsodium-dev libcmocka-dev \
      libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libgsl-dev libcsv-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree (less what .dockerignore leaves out): CMake's configure step
# names the unit tests' and benchmarks' sources too.
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target mlplane -j "$(nproc)" \
 && strip /build/mlplane \
 && /build/mlplane --version

# ---- runtime --------------------------------------------------------------------
FROM ${DEBIAN_SLIM_IMAGE} AS runtime
ARG MLPLANE_VERSION=0.1.0
ARG MLPLANE_REVISION=unknown
LABEL org.opencontainers.image.title="mlplane" \
      org.opencontainers.image.description="mlplane: pipelines, scheduling, tracking (MLflow REST API), model registry and serving (Open Inference Protocol v2) in one binary" \
      org.opencontainers.image.version="${MLPLANE_VERSION}" \
      org.opencontainers.image.revision="${MLPLANE_REVISION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim" \
      org.opencontainers.image.documentation="docs/kubernetes.md"
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfyaml0 libjansson4 libsqlite3-0 libsodium23 libmicrohttpd12 libgnutls30 libcurl4 libxgboost0 \
      libgsl27 libgslcblas0 libcsv3 \
      ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
# uid/gid 10001: the runAsUser/runAsGroup of deploy/ and of the rendered Jobs.
RUN groupadd --system --gid 10001 mlplane \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/mlplane --create-home \
      --shell /usr/sbin/nologin mlplane \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/mlplane
COPY --from=build /build/mlplane /usr/local/bin/mlplane
ENV MLPLANE_HOME=/var/lib/mlplane \
    HOME=/home/mlplane
USER 10001:10001
WORKDIR /home/mlplane
EXPOSE 5000
# tini reaps the processes that pipeline steps leave behind and passes SIGTERM on
# to mlplane, which drains requests in flight (--drain) before it exits.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mlplane"]
CMD ["server", "--listen", "0.0.0.0:5000", "--auth"]
