# One image for every service; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim
WORKDIR /app
# npm ci's postinstall generates the Prisma client and the GraphQL types from the sources (npm run
# generate, npm run codegen), so the sources come first.
COPY . .
RUN npm ci
ENV NODE_ENV=production
