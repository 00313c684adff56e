# One image for every service: docker-compose.yml and deploy/k8s/ pick the command per service
# (node dist/gateway/src/main.js, node dist/subgraphs/<name>/src/main.js, node dist/scripts/db/migrate.js).

# Build: every dependency (npm ci's postinstall generates the Prisma client and the GraphQL types from
# the sources, so they come first), then the compiled JavaScript in dist/ (npm run build).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build

# Run: production dependencies only, the compiled code, no compiler and no tsx at run time.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The install scripts would generate the Prisma client and the GraphQL types, with development tools:
# both are already compiled into dist/ (dist/generated/).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# The project's files are read at run time: each subgraph's schema.graphql, supergraph.graphql, prisma/
# (the migrations), and every text file the production secret check looks for published secrets in.
COPY . .
COPY --from=build /app/dist ./dist
# The image's own unprivileged user (uid 1000); nothing is written to the image at run time.
USER node
EXPOSE 4000 4001 4002 4003 4004 4005
# The gateway's readiness by default; docker-compose.yml names each service's own port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/scripts/healthcheck.js"]
CMD ["node", "dist/gateway/src/main.js"]
