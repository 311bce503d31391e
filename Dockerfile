# raftkv node image: the TypeScript sources run through tsx, with the kernel fast path (the XDP
# object and the libbpf addon) built here. Multi-stage: the toolchain stays in the build stage.
#   docker build -t raftkv:latest .
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev libelf-dev zlib1g-dev linux-libc-dev g++ make python3 pkg-config \
 && rm -rf /var/lib/apt/lists/*
# node-gyp builds the addon against this Node's own headers (no download).
ENV npm_config_nodedir=/usr/local
WORKDIR /app
# Dependencies first (cached while only sources change). npm ci runs the install script, which
# needs the native sources and the build script.
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY bpf ./bpf
COPY native ./native
RUN npm ci --ignore-scripts
COPY . .
# The fast path must build here (no --if-possible: an image without it would silently run slower
# than its manifests ask for), then the visualizer bundle, then drop the dev dependencies.
# (npm ci ran no install scripts: the project's own need the whole tree. Dependencies' run now.)
RUN npm rebuild \
 && bash scripts/build-native.sh --force \
 && npm run build:ui \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
# libbpf and libelf for the addon at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 raftkv \
 && useradd --uid 10001 --gid raftkv --no-create-home --shell /usr/sbin/nologin raftkv \
 && mkdir -p /data \
 && chown raftkv:raftkv /data
WORKDIR /app
COPY --from=build --chown=root:root /app /app
ENV NODE_ENV=production
# The node runtime settings of src/cluster/runtime.ts (memory: two malloc arenas, a trim threshold,
# a small young generation).
ENV MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=4194304
# Non-root by default: the offload manifests run it as root with only BPF, NET_ADMIN and PERFMON
# (Kubernetes grants added capabilities to root only); the no-offload overlay keeps uid 10001.
USER 10001
VOLUME ["/data"]
EXPOSE 6379 7000/tcp 7000/udp 8080
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/bin/raftkv.js"]
CMD ["node", "--data-dir=/data"]
