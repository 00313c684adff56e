import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import cors from 'cors';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { createLogger, type Logger } from '../../kernel/src/logger';
import { JwtService } from '../../kernel/src/jwt';
import { createRedis, redisReachable } from '../../kernel/src/redis';
import { formatError, graphqlBodyErrors, graphqlBodyParser, healthRoutes } from '../../kernel/src/http';
import type { RunningServer } from '../../kernel/src/server';
import type { GatewayConfig } from './config';
import { GatewayIdentity, type GatewayContext } from './identity';
import { SubscriptionServer, internalFieldGuard } from './subscriptions';
import { subscriptionRoutes } from './subscription-routes';
import type { GraphQLSchema } from 'graphql';

/** Forwards the caller's identity to a subgraph as a signed internal token, never the client's own headers. */
class IdentityForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    if (!('internalToken' in context)) return;
    request.http?.headers.set('authorization', `Bearer ${await context.internalToken()}`);
  }
}

async function subgraphReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(new URL('/ready', url), { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

export interface GatewayServer extends RunningServer {
  logger: Logger;
}

/** The one public endpoint: /graphql over HTTP (Sandbox for browsers), /health, /ready. */
export async function startGateway(config: GatewayConfig, logger: Logger = createLogger('gateway', config.LOG_LEVEL)): Promise<GatewayServer> {
  const jwt = await JwtService.create(config);
  const identity = new GatewayIdentity(jwt);
  const redis = createRedis(config.REDIS_URL, logger);
  const subgraphs = new Map<string, string>();

  const gateway = new ApolloGateway({
    supergraphSdl: fs.readFileSync(config.SUPERGRAPH_FILE, 'utf8'),
    buildService: ({ name, url }) => {
      const target = config.subgraphUrls[name] ?? url!;
      subgraphs.set(name, target);
      return new IdentityForwardingDataSource({ url: target });
    },
    logger,
  });

  let apiSchema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema }) => {
    apiSchema = schema;
  });
  const routes = subscriptionRoutes(config.REDIS_KEY_PREFIX);

  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatError(logger),
    includeStacktraceInErrorResponses: false,
    // runService handles SIGINT/SIGTERM and stops everything in order.
    stopOnTerminationSignals: false,
    introspection: true,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      internalFieldGuard(new Set(Object.values(routes).map((route) => route.eventField))),
      config.sandbox ? ApolloServerPluginLandingPageLocalDefault({ embed: true }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();
  const subscriptions = new SubscriptionServer({ httpServer, apollo, schema: () => apiSchema, identity, routes, redis, logger });
  subscriptions.start();

  const subgraphChecks = () =>
    Object.fromEntries([...subgraphs].map(([name, url]) => [`subgraph:${name}`, () => subgraphReady(url)]));
  healthRoutes(app, { redis: () => redisReachable(redis), ...subgraphChecks() });
  app.use(
    '/graphql',
    cors(),
    graphqlBodyParser(),
    expressMiddleware(apollo, { context: ({ req }) => identity.contextFor(req) }),
  );
  app.use(graphqlBodyErrors(logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.GATEWAY_PORT, config.GATEWAY_HOST, resolve);
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.GATEWAY_HOST}:${port}/graphql`;
  logger.info({ url }, 'gateway ready');
  return {
    url,
    port,
    httpServer,
    logger,
    stop: async () => {
      await subscriptions.stop();
      await apollo.stop();
      redis.disconnect();
    },
  };
}
