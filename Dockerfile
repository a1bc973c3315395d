# syntax=docker/dockerfile:1.7
# The m87 image: one image for `m87 controller` (the Deployment) and `m87 runner` (every job Pod).
# The image runs JavaScript compiled from src/ (dev/build/compile.ts: tsc -p tsconfig.build.json, into
# /app/dist) with type stripping off, so no process in it loads Node's type stripper (~25 MiB RSS each): the
# image is the production dependencies, package.json and dist/.
# Two builds describe this same image: `docker build` (hack/e2e-kind.sh and .github/workflows/e2e-kind.yaml,
# where Docker exists) and `npm run image` (dev/image: offline, no container engine or registry; the Node binary
# of hack/env.sh's pinned version plus exactly the host libraries it loads instead of the distroless base).
# test/unit/image/dockerfile.test.ts keeps them from drifting: entrypoint, command, user, env, workdir, labels,
# launcher, Node major version, the build and the file set (.dockerignore).
#   docker build -t ghcr.io/m87/m87:0.1.0 .

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# ---- dependencies: production only, from the lock file, no install scripts ---------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- build: src/ compiled to dist/, with the dev dependencies (TypeScript) --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY dev/build/compile.ts ./dev/build/compile.ts
RUN node dev/build/compile.ts

# ---- runtime: distroless Node 24, no shell, no package manager, UID/GID 65532 ---------------------------
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="m87" \
      org.opencontainers.image.description="Governed execution for AI agents: controller and in-pod runner" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production \
    PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json ./
COPY --from=build --chown=0:0 /app/dist ./dist
# Job Pods run `command: ["m87", "runner"]` (docs/dev/pod-contract.md), so `m87` must be on PATH. No shell
# exists here: the launcher is a tiny CommonJS file whose shebang passes the one Node flag we need.
COPY --chown=0:0 --chmod=0555 <<'LAUNCHER' /usr/local/bin/m87
#!/nodejs/bin/node --no-experimental-strip-types
import('/app/dist/cli/main.js');
LAUNCHER
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "--no-experimental-strip-types", "/app/dist/cli/main.js"]
CMD ["--help"]
