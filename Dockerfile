# syntax=docker/dockerfile:1
#
# dirsync container image.
#   docker build -t dirsync .
#   docker run --rm dirsync --version
#   docker run -d -v /srv/dirsync/config.yaml:/etc/dirsync/config.yaml:ro \
#     -v /srv/dirsync/secrets:/run/secrets/dirsync:ro -v dirsync-state:/var/lib/dirsync \
#     -p 9464:9464 dirsync                      # the daemon (the default command)
#   docker run --rm ... dirsync apply           # one run, e.g. from cron
# deploy/ has a compose file and Kubernetes manifests.

# The current Node.js LTS line on Debian bookworm, slim. Override with --build-arg NODE_IMAGE=...
ARG NODE_IMAGE=node:26-bookworm-slim

# --- Stage 1: install every dependency and compile TypeScript to dist/ ------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `prepare` runs the build, which needs the sources copied below: skip it here so this layer
# (the dependencies) stays cached while only the sources change.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- Stage 2: production dependencies and the compiled CLI only ------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DIRSYNC_CONFIG=/etc/dirsync/config.yaml
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, a dev dependency that is not installed here (no
# production dependency needs an install script; test/unit/packaging checks that).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY config ./config
# `dirsync` on the PATH without npm link; node follows the symlink, so bin/dirsync.js finds
# ../dist. The state folder belongs to the unprivileged user that runs dirsync.
RUN chmod 0755 /app/bin/dirsync.js \
    && ln -s /app/bin/dirsync.js /usr/local/bin/dirsync \
    && mkdir -p /etc/dirsync /var/lib/dirsync \
    && chown 1000:1000 /var/lib/dirsync \
    && chmod 0750 /var/lib/dirsync

# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# The state record and run reports (config: state.path: /var/lib/dirsync/dirsync.json).
VOLUME ["/var/lib/dirsync"]
# /healthz, /readyz and /metrics of `dirsync daemon` (config: server.port).
EXPOSE 9464
# Slim images have no curl: ask node. Only meaningful for the daemon; adjust if server.port moves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["dirsync"]
CMD ["daemon"]
