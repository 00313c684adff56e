import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { parse, type DocumentNode } from 'graphql';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { authenticate, socketAddress, type Identity } from './identity';
import type { JwtService } from './jwt';
import type { Logger } from './logger';
import { formatError, graphqlBodyErrors, graphqlBodyParser, graphqlHttpHandler, healthRoutes, requestIds, requestLog, type ReadinessCheck } from './http';
import { serveMetrics, type Metrics } from './metrics';
import { currentRequestId } from './request-context';
import { loadConfig, shutdownConfigShape, type ShutdownConfig } from './config';

/** What every subgraph resolver receives; a subgraph adds its own fields (loaders, services). */
export interface BaseContext {
  identity: Identity;
  requestId: string;
}

export interface RunningServer {
  url: string;
  port: number;
  httpServer: http.Server;
  /** Where its Prometheus metrics are scraped (GET /metrics, on this port or METRICS_PORT). */
  metricsUrl: string;
  /** SQL statements sent so far, when the service has a database. */
  queryCount?: () => number;
  stop(): Promise<void>;
}

export function loadTypeDefs(file: string): DocumentNode {
  return parse(fs.readFileSync(file, 'utf8'));
}

/** The resolvers buildSubgraphSchema takes (its own type sits on a path the package does not export). */
type SubgraphResolverMap = NonNullable<Extract<Parameters<typeof buildSubgraphSchema>[0], { typeDefs: unknown }>['resolvers']>;

export interface SubgraphOptions<TContext extends BaseContext> {
  name: string;
  typeDefs: DocumentNode;
  /** The subgraph's `Resolvers` from generated/graphql/<subgraph>/resolvers.ts (npm run codegen). */
  resolvers: object;
  jwt: JwtService;
  logger: Logger;
  readiness: Record<string, ReadinessCheck>;
  /** The service's metrics (openInfrastructure's): served at GET /metrics, with GraphQL requests counted into them. */
  metrics: Metrics;
  /** Builds the request context from the verified caller. */
  context: (base: BaseContext) => TContext | Promise<TContext>;
  /** Extra routes (a webhook, say), mounted before /graphql. */
  routes?: (app: Express) => void;
  port: number;
  host?: string;
  /** Runs after the server has drained: close what the service opened. */
  onStop?: () => Promise<void>;
  queryCount?: () => number;
  /** SHUTDOWN_TIMEOUT_MS and SHUTDOWN_DELAY_MS (the service's config); their defaults without it. */
  shutdown?: ShutdownConfig;
}

/**
 * How a server stops taking work: /ready answers 503 at once, SHUTDOWN_DELAY_MS later the port closes
 * (new connections are refused), and the requests in flight then get `graceMs` to finish.
 */
export class Draining {
  private started = false;
  private readonly config: ShutdownConfig;

  constructor(
    private readonly httpServer: http.Server,
    config?: ShutdownConfig,
  ) {
    this.config = config ?? loadConfig(shutdownConfigShape, {});
  }

  /** What /ready reports: true from the first moment of stopping. */
  readonly stopping = (): boolean => this.started;

  /** Apollo's drain grace for requests in flight: the time left after the delay, less 2 s for closing workers and connections. */
  get graceMs(): number {
    return Math.max(500, this.config.SHUTDOWN_TIMEOUT_MS - this.config.SHUTDOWN_DELAY_MS - 2_000);
  }

  async closePort(): Promise<void> {
    this.started = true;
    if (this.config.SHUTDOWN_DELAY_MS > 0) await new Promise((resolve) => setTimeout(resolve, this.config.SHUTDOWN_DELAY_MS));
    // Idle keep-alive connections close with it; Apollo's drain plugin ends the others once their requests are answered.
    this.httpServer.close();
  }
}

/** A subgraph's executable schema: its SDL and its codegen-typed resolvers. */
export function subgraphSchema(typeDefs: DocumentNode, resolvers: object) {
  return buildSubgraphSchema([{ typeDefs, resolvers: resolvers as SubgraphResolverMap }]);
}

/** Starts a federation subgraph: POST /graphql, GET /health, GET /ready, bounded bodies, masked errors. */
export async function startSubgraph<TContext extends BaseContext>(options: SubgraphOptions<TContext>): Promise<RunningServer> {
  const { logger, jwt } = options;
  const app = express();
  app.disable('x-powered-by');
  // GraphQL answers are not cached by their ETag: express would hash every one.
  app.set('etag', false);
  let graphql: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false;
  // POST /graphql goes straight to Apollo (graphqlHttpHandler); express serves the rest.
  const httpServer = http.createServer((req, res) => {
    if (!graphql(req, res)) app(req, res);
  });
  const draining = new Draining(httpServer, options.shutdown);
  const apollo = new ApolloServer<TContext>({
    schema: subgraphSchema(options.typeDefs, options.resolvers),
    formatError: formatError(logger),
    includeStacktraceInErrorResponses: false,
    // runService handles SIGINT/SIGTERM and stops everything in order.
    stopOnTerminationSignals: false,
    // No Apollo Studio here: inline traces would only cost time.
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: draining.graceMs }), ApolloServerPluginInlineTraceDisabled(), options.metrics.graphqlPlugin(), requestLog(logger)],
  });
  await apollo.start();

  healthRoutes(app, options.readiness, draining.stopping);
  const metricsServer = await serveMetrics(options.metrics, app, options.host ?? '127.0.0.1', () => (httpServer.address() as AddressInfo).port);
  app.use(requestIds());
  options.routes?.(app);
  const context = async (req: http.IncomingMessage) => {
    const identity = await authenticate(jwt, req.headers.authorization, ['internal', 'service', 'access'], socketAddress(req));
    return options.context({ identity, requestId: currentRequestId() ?? '' });
  };
  graphql = graphqlHttpHandler(apollo, context, logger);
  // What the fast path leaves to express (a GET, another content type) is answered as before.
  app.use('/graphql', graphqlBodyParser(), expressMiddleware(apollo, { context: ({ req }) => context(req) }));
  app.use(graphqlBodyErrors(logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host ?? '127.0.0.1', resolve);
  }).catch(async (error: unknown) => {
    await metricsServer.stop();
    throw error;
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}/graphql`;
  logger.info({ url }, `${options.name} subgraph ready`);
  return {
    url,
    port,
    httpServer,
    metricsUrl: metricsServer.url,
    queryCount: options.queryCount,
    stop: async () => {
      await draining.closePort();
      // Requests in flight finish (within the grace), then the background workers stop and connections close.
      await apollo.stop();
      await metricsServer.stop();
      await options.onStop?.();
    },
  };
}

/**
 * Runs `main` as a process entry point: one line on a config error; on SIGINT/SIGTERM the service
 * stops (exit code 0), or is cut off after SHUTDOWN_TIMEOUT_MS (exit code 1).
 */
export function runService(name: string, main: () => Promise<{ stop(): Promise<void> }>): void {
  // A config error thrown synchronously by `main` gets the same one-line treatment as an async one.
  Promise.resolve().then(main).then(
    (service) => {
      const { SHUTDOWN_TIMEOUT_MS } = loadConfig(shutdownConfigShape);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        // Whatever hangs (a dead database connection, say) must not keep the process alive.
        setTimeout(() => {
          console.error(`${name}: still stopping after ${SHUTDOWN_TIMEOUT_MS} ms (SHUTDOWN_TIMEOUT_MS); exiting anyway`);
          process.exit(1);
        }, SHUTDOWN_TIMEOUT_MS).unref();
        service.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            console.error(`${name}: error while stopping after ${signal}: ${String(error)}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    },
    (error: unknown) => {
      console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
