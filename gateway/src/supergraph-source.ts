import fs from 'node:fs/promises';
import { Kind, parse, type ConstDirectiveNode, type DocumentNode } from 'graphql';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from '../../kernel/src/logger';
import { PollingWorker } from '../../kernel/src/polling-worker';

/** Where the gateway reads its supergraph: `read` gives the current text, or undefined when it is known unchanged. */
export interface SupergraphSource {
  /** For log lines: the file or the URL. */
  readonly name: string;
  read(): Promise<string | undefined>;
}

/** SUPERGRAPH_FILE: read whole each round (some 20 kB), so a file replaced by a rename or a symlink swap (a Kubernetes ConfigMap) is seen like one written in place. */
export function supergraphFile(file: string): SupergraphSource {
  return { name: file, read: () => fs.readFile(file, 'utf8') };
}

/** SUPERGRAPH_URL: a GET each round; with the server's ETag, an unchanged supergraph costs a 304. */
export function supergraphUrl(url: string, timeoutMs: number): SupergraphSource {
  let etag: string | undefined;
  return {
    name: url,
    read: async () => {
      const response = await fetch(url, { headers: etag ? { 'if-none-match': etag } : {}, signal: AbortSignal.timeout(timeoutMs) });
      if (response.status === 304) return undefined;
      if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
      const text = await response.text();
      etag = response.headers.get('etag') ?? undefined;
      return text;
    },
  };
}

/**
 * @apollo/gateway's `supergraphSdl` hook: the supergraph from `source` at start, then every
 * `intervalMs` a changed one through the gateway's `update`. Requests in flight finish on the plan
 * they started with and open websockets stay open; the next operations see the new schema. A text
 * the gateway cannot build (not GraphQL, not a valid supergraph) is logged once and ignored: the
 * previous schema keeps serving. A source that cannot be read at start stops the gateway from starting.
 */
export function reloadingSupergraph(source: SupergraphSource, options: { intervalMs: number; logger: Logger }): SupergraphSdlHook {
  const { logger } = options;
  return async ({ update }) => {
    const initial = await source.read();
    if (initial === undefined) throw new Error(`${source.name} gave no supergraph`);
    // The last text tried, applied or refused: a refused one is not retried (nor logged) until it changes.
    let seen = initial;
    let stopped = false;
    const worker = new PollingWorker({
      run: async () => {
        const text = await source.read();
        if (text === undefined || text === seen || stopped) return;
        seen = text;
        try {
          update(text);
          logger.info({ source: source.name }, 'supergraph reloaded: new operations use the new schema');
        } catch (error) {
          logger.error({ source: source.name, err: error instanceof Error ? error.message : String(error) }, 'supergraph refused; the previous one keeps serving');
        }
      },
      intervalMs: options.intervalMs,
      maxBackoffMs: Math.max(options.intervalMs, 60_000),
      onFailure: (error, failures) => {
        if (failures === 1) logger.warn({ source: source.name, err: error instanceof Error ? error.message : String(error) }, 'cannot read the supergraph; the current one keeps serving');
      },
      onRecovery: () => logger.info({ source: source.name }, 'the supergraph can be read again'),
    });
    worker.start(options.intervalMs);
    return {
      supergraphSdl: initial,
      cleanup: async () => {
        stopped = true;
        await worker.stop();
      },
    };
  };
}

/** The subgraph names of a supergraph (its `join__Graph` enum): a subgraph that left it is no longer a readiness check. */
export function subgraphNames(supergraphSdl: string): Set<string> {
  return new Set(joinGraphs(parse(supergraphSdl, { noLocation: true })).values());
}

/**
 * Which subgraph serves each field of a root type (`Mutation`, say), from the supergraph's
 * `@join__field(graph:)` directives: the gateway's plugins see only the API schema, which has none.
 */
export function rootFieldOwners(supergraphSdl: string, typeName: string): Map<string, string> {
  const document = parse(supergraphSdl, { noLocation: true });
  const graphs = joinGraphs(document);
  const owners = new Map<string, string>();
  for (const definition of document.definitions) {
    if ((definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) || definition.name.value !== typeName) continue;
    for (const field of definition.fields ?? []) {
      const graph = directiveArgument(field.directives, 'join__field', 'graph');
      if (graph?.kind === Kind.ENUM) owners.set(field.name.value, graphs.get(graph.value) ?? graph.value);
    }
  }
  return owners;
}

/** The `join__Graph` enum: its values (AUTH) and the subgraph names they stand for (auth). */
function joinGraphs(document: DocumentNode): Map<string, string> {
  const graphs = new Map<string, string>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== 'join__Graph') continue;
    for (const value of definition.values ?? []) {
      const name = directiveArgument(value.directives, 'join__graph', 'name');
      if (name?.kind === Kind.STRING) graphs.set(value.name.value, name.value);
    }
  }
  return graphs;
}

const directiveArgument = (directives: readonly ConstDirectiveNode[] | undefined, directive: string, argument: string) =>
  directives?.find((d) => d.name.value === directive)?.arguments?.find((a) => a.name.value === argument)?.value;
