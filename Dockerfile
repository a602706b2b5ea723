# journal-id: OpenID Connect provider. Build: docker build -t journal-id .
# In production it needs DATABASE_URL, an https ISSUER and the secrets COOKIE_KEYS,
# KEY_ENCRYPTION_KEY, JOURNAL_WEB_CLIENT_SECRET (or <NAME>_FILE); see docker-compose.yml.

# --- build: compile TypeScript to dist/ ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY config ./config
COPY migrations ./migrations
RUN npm run build

# --- the fake ESIA (docker-compose.yml's fake-esia): a test double, never in the runtime image ---
FROM build AS fake-esia
COPY fake-esia ./fake-esia
# The folders it shares with journal-id through volumes, owned by the same user (uid 1000) as in
# the runtime image: whichever container mounts a new volume first, both can write their files.
RUN mkdir -p data/esia data/fake-esia && chown -R node:node data
USER node
ENTRYPOINT ["node_modules/.bin/tsx", "fake-esia/main.ts"]

# --- runtime: production dependencies (argon2 ships prebuilt binaries) and the compiled code ---
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
# Memory stays flat (docs/PERFORMANCE.md, «Memory»): a bounded V8 heap, which would otherwise
# grow into its slack under load.
ENV NODE_OPTIONS=--max-old-space-size=160
WORKDIR /app
# OpenSSL with the GOST engine: the production signer of requests to Gosuslugi (ESIA_SIGNER=openssl-gost).
RUN apt-get update && apt-get install -y --no-install-recommends openssl libengine-gost-openssl \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time from the project folder (src/server/paths.ts): templates and static files.
COPY views ./views
COPY public ./public
# The embedded database (no DATABASE_URL) keeps its files in ./data: the only writable folder.
RUN mkdir -p data/esia data/fake-esia && chown -R node:node data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/cli/main.js", "serve"]
