import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import cors from 'cors';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway } from '@apollo/gateway';
import { createLogger, type Logger } from '../../kernel/src/logger';
import { JwtService } from '../../kernel/src/jwt';
import { createRedis, redisReachable } from '../../kernel/src/redis';
import { graphqlBodyErrors, graphqlBodyParser, healthRoutes, requestIds, requestLog } from '../../kernel/src/http';
import { trustedProxies } from '../../kernel/src/client-address';
import { Metrics, metricsEndpointOf, serveMetrics } from '../../kernel/src/metrics';
import { Draining, type RunningServer } from '../../kernel/src/server';
import type { GatewayConfig } from './config';
import { GatewayIdentity, type GatewayContext } from './identity';
import { SubscriptionServer, internalFieldGuard } from './subscriptions';
import { subscriptionRoutes } from './subscription-routes';
import { sseSubscriptions } from './sse-subscriptions';
import { SubgraphDataSource } from './subgraph-data-source';
import { MutationLimiter } from './mutation-limits';
import { costLimit, limitRules, parseOptions } from './operation-limits';
import { gatewayFormatError } from './error-format';
import { graphqlOverHttpStatus } from './http-status';
import { documentScreen } from './document-screen';
import { ResponseCache, type ServedSupergraph } from './response-cache';
import { RedisKeyValueCache } from './redis-key-value-cache';
import { loadTrustedDocuments, trustedDocumentsGuard } from './trusted-documents';
import { reloadingSupergraph, rootFieldOwners, subgraphNames, supergraphFile, supergraphUrl } from './supergraph-source';
import type { GraphQLSchema } from 'graphql';

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
export async function startGateway(config: GatewayConfig, logger: Logger = createLogger('gateway', config.LOG_LEVEL, config.LOG_FILE, config.NODE_ENV)): Promise<GatewayServer> {
  const jwt = await JwtService.create(config);
  const identity = new GatewayIdentity(jwt, trustedProxies(config.TRUSTED_PROXIES));
  const redis = createRedis(config.REDIS_URL, logger);
  const metrics = new Metrics({ endpoint: metricsEndpointOf(config) });
  const subgraphs = new Map<string, string>();

  const trustedDocuments = config.GATEWAY_TRUSTED_DOCUMENTS ? loadTrustedDocuments(config.GATEWAY_TRUSTED_DOCUMENTS) : undefined;
  const gateway = new ApolloGateway({
    // Reloaded when it changes, without a restart (./supergraph-source.ts).
    supergraphSdl: reloadingSupergraph(config.SUPERGRAPH_URL ? supergraphUrl(config.SUPERGRAPH_URL, 10_000) : supergraphFile(config.SUPERGRAPH_FILE), {
      intervalMs: config.SUPERGRAPH_POLL_INTERVAL_MS,
      logger,
    }),
    // In production too: a reloaded supergraph is checked before it replaces the one serving.
    validateSupergraph: true,
    buildService: ({ name, url }) => {
      const target = config.subgraphUrls[name] ?? url!;
      subgraphs.set(name, target);
      return new SubgraphDataSource(name, target, config.SUBGRAPH_TIMEOUT_MS, config.dedupeSubgraphQueries, metrics);
    },
    logger,
  });

  let apiSchema: GraphQLSchema | undefined;
  let servedSupergraph: ServedSupergraph = { version: '', mutationOwners: new Map() };
  let servedSubgraphs = new Set<string>();
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema, coreSupergraphSdl }) => {
    apiSchema = schema;
    servedSupergraph = {
      version: createHash('sha256').update(coreSupergraphSdl).digest('hex').slice(0, 16),
      mutationOwners: rootFieldOwners(coreSupergraphSdl, 'Mutation'),
    };
    servedSubgraphs = subgraphNames(coreSupergraphSdl);
  });
  const routes = subscriptionRoutes(config.REDIS_KEY_PREFIX);

  const app = express();
  app.disable('x-powered-by');
  // GraphQL answers are not cached by their ETag: express would hash every one.
  app.set('etag', false);
  const httpServer = http.createServer(app);
  const draining = new Draining(httpServer, config);
  const production = config.NODE_ENV === 'production';
  const errors = gatewayFormatError(logger, config.limits, metrics);
  const mutations = new MutationLimiter(redis, config.REDIS_KEY_PREFIX, {
    perUserPerMinute: config.MUTATION_RATE_PER_USER_PER_MINUTE,
    perAddressPerMinute: config.MUTATION_RATE_PER_ADDRESS_PER_MINUTE,
  });
  const responseCache = config.responseCache
    ? new ResponseCache(redis, config.REDIS_KEY_PREFIX, () => servedSupergraph, logger, metrics)
    : undefined;
  await responseCache?.start();
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: errors,
    includeStacktraceInErrorResponses: false,
    // runService handles SIGINT/SIGTERM and stops everything in order.
    stopOnTerminationSignals: false,
    introspection: config.introspection,
    // No "did you mean ..." hints that spell out the schema when introspection is off.
    hideSchemaDetailsFromClientErrors: production || !config.introspection,
    csrfPrevention: true,
    // One operation per request: a batch would multiply every limit below.
    allowBatchedHttpRequests: false,
    // APQ: documents by hash, shared by every replica through Redis.
    persistedQueries: { cache: new RedisKeyValueCache(redis, config.REDIS_KEY_PREFIX), ttl: 24 * 3600 },
    parseOptions: parseOptions(config.limits),
    validationRules: limitRules(config.limits),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: draining.graceMs }),
      metrics.graphqlPlugin(),
      internalFieldGuard(new Set(Object.values(routes).map((route) => route.eventField))),
      costLimit(config.limits),
      mutations.plugin(),
      graphqlOverHttpStatus(),
      requestLog(logger),
      ...(responseCache ? [responseCache.plugin()] : []),
      config.sandbox ? ApolloServerPluginLandingPageLocalDefault({ embed: true }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();
  const subscriptions = new SubscriptionServer({
    httpServer,
    apollo,
    schema: () => apiSchema,
    identity,
    routes,
    redis,
    logger,
    metrics,
    limits: config.limits,
    formatError: errors,
    trustedDocuments,
    websocket: {
      maxMessageBytes: config.WS_MAX_MESSAGE_BYTES,
      maxSubscriptionsPerSocket: config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxQueuedEvents: config.WS_MAX_QUEUED_EVENTS,
      maxSocketsPerAddress: config.WS_MAX_SOCKETS_PER_ADDRESS,
    },
  });
  subscriptions.start();

  const subgraphChecks = () =>
    Object.fromEntries([...subgraphs].filter(([name]) => servedSubgraphs.has(name)).map(([name, url]) => [`subgraph:${name}`, () => subgraphReady(url)]));
  // Ready while Redis answers; each subgraph is reported (a subgraph that is down costs its fields, not the shop).
  healthRoutes(app, { redis: () => redisReachable(redis) }, draining.stopping, subgraphChecks);
  const metricsServer = await serveMetrics(metrics, app, config.GATEWAY_HOST, () => (httpServer.address() as AddressInfo).port);
  app.use(requestIds());
  app.use(
    '/graphql',
    cors(),
    graphqlBodyParser(),
    ...(trustedDocuments ? [trustedDocumentsGuard(trustedDocuments, errors)] : []),
    documentScreen(config.limits, errors),
    sseSubscriptions({ subscriptions, identity, formatError: errors, logger }),
    expressMiddleware(apollo, { context: ({ req }) => identity.contextFor(req) }),
  );
  app.use(graphqlBodyErrors(logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.GATEWAY_PORT, config.GATEWAY_HOST, resolve);
  }).catch(async (error: unknown) => {
    await metricsServer.stop();
    throw error;
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.GATEWAY_HOST}:${port}/graphql`;
  logger.info({ url }, 'gateway ready');
  return {
    url,
    port,
    httpServer,
    metricsUrl: metricsServer.url,
    logger,
    stop: async () => {
      await draining.closePort();
      // Websockets close with 1001 and event streams end, so their clients reconnect to another gateway; then HTTP requests in flight finish.
      await subscriptions.stop();
      await apollo.stop();
      await metricsServer.stop();
      responseCache?.stop();
      redis.disconnect();
    },
  };
}
