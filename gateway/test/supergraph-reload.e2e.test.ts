// The gateway serves a changed supergraph.graphql without a restart, and keeps serving the old one when the new file is broken.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parse } from 'graphql';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from '../../generated/graphql/gateway';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import { composeSupergraph, SUPERGRAPH_FILE } from '../../scripts/lib/composition';
import { useStack } from '../../test/support/stack';
import { graphql } from '../../test/support/graphql';
import { eventually } from '../../test/support/eventually';
import { login, randomPhone, type Session } from '../../test/support/login';
import { ADJUST_STOCK, createStockedProduct } from '../../test/support/operations';
import { stockProbe, subscribe, untilLive, wsClient } from '../../test/support/subscriptions';

const WATCH = gql(`
  subscription WatchStockAcrossReloads($ids: [ID!]) { stockUpdated(productIds: $ids) { productId onHand product { name } } }
`);
// Not in the committed supergraph: only the reloaded one has it.
const PROBE_QUERY = 'query ReloadProbe { reloadProbe }';

/** A subgraph of the test's own, with one field the committed supergraph does not have. */
async function startProbeSubgraph(): Promise<{ url: string; stop(): Promise<void>; typeDefs: ReturnType<typeof parse> }> {
  const typeDefs = parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])
    type Query { reloadProbe: String! }
  `);
  const server = new ApolloServer({
    schema: buildSubgraphSchema([{ typeDefs, resolvers: { Query: { reloadProbe: () => 'answered by the reloaded supergraph' } } }]),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, typeDefs, stop: () => server.stop() };
}

/** Log lines of the gateway under test, parsed. */
function capturedLogger() {
  const lines: Array<{ level: number; msg: string; err?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

describe('the gateway reloads its supergraph file', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone });
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'supergraph-reload-'));
  const file = path.join(directory, 'supergraph.graphql');
  const original = fs.readFileSync(SUPERGRAPH_FILE, 'utf8');
  const log = capturedLogger();
  let probe: Awaited<ReturnType<typeof startProbeSubgraph>>;
  let gateway: GatewayServer;
  let admin: Session;
  let productId: string;

  /** Replaces the file the way a deploy does: written beside it, then renamed over it. */
  const swapIn = (text: string) => {
    fs.writeFileSync(`${file}.next`, text);
    fs.renameSync(`${file}.next`, file);
  };
  const logged = (msg: RegExp) => log.lines.filter((line) => msg.test(line.msg));

  beforeAll(async () => {
    fs.writeFileSync(file, original);
    probe = await startProbeSubgraph();
    // A gateway of its own on the copy, checking it every 100 ms; the stack's subgraphs serve it.
    gateway = await startGateway(loadGatewayConfig({ ...shop.stack.env, GATEWAY_PORT: '0', SUPERGRAPH_FILE: file, SUPERGRAPH_POLL_INTERVAL_MS: '100' }), log.logger);
    admin = await login(shop.stack, shop.telegram, adminPhone);
    productId = await createStockedProduct(shop.stack, admin.accessToken, {
      skuPrefix: 'RELOAD', name: 'Hot-swapped kettle', category: 'kettles', price: { amount: 3900, currency: 'EUR' }, onHand: 5,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await probe?.stop();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it('answers a new field once the file has it, keeps an open websocket working, and ignores a broken file', async () => {
    const probeField = () => graphql(gateway.url, PROBE_QUERY);
    expect((await probeField()).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    const client = wsClient(gateway.url, admin.accessToken);
    const watch = subscribe(client, WATCH, { ids: [productId] });
    let closed: unknown;
    void watch.error.then((error) => (closed = error));
    try {
      await untilLive(watch, shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));

      // Given a supergraph with the test's subgraph in it, composed like `npm run compose` does.
      const composed = composeSupergraph([{ name: 'probe', url: probe.url, typeDefs: probe.typeDefs }]);
      if (!composed.ok) throw new Error(composed.errors.join('\n'));
      swapIn(composed.supergraphSdl);

      // Then new requests see the new field,
      const answered = await eventually(probeField, (response) => response.errors === undefined);
      expect(answered.data).toEqual({ reloadProbe: 'answered by the reloaded supergraph' });
      expect(logged(/supergraph reloaded/)).toHaveLength(1);
      // and the websocket opened before still delivers, federated fields resolved on the new schema.
      await shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: 'reload test' }, { token: admin.accessToken });
      expect((await watch.next()).data?.stockUpdated).toMatchObject({ productId, onHand: 6, product: { name: 'Hot-swapped kettle' } });

      // When the file is broken (cut off half way), or is GraphQL but no supergraph,
      swapIn(composed.supergraphSdl.slice(0, composed.supergraphSdl.length / 2));
      await eventually(async () => logged(/supergraph refused/).length, (count) => count === 1);
      swapIn('type Query { hello: String }\n');
      await eventually(async () => logged(/supergraph refused/).length, (count) => count === 2);
      // then the last good one keeps serving, each refusal logged once.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(logged(/supergraph refused/)).toHaveLength(2);
      expect((await probeField()).data).toEqual({ reloadProbe: 'answered by the reloaded supergraph' });
      expect(log.lines.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual(['supergraph refused; the previous one keeps serving', 'supergraph refused; the previous one keeps serving']);

      // And the next good file is served again: the committed supergraph, without the field.
      swapIn(original);
      await eventually(probeField, (response) => response.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
      await shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: 'reload test' }, { token: admin.accessToken });
      expect((await watch.next()).data?.stockUpdated).toMatchObject({ productId, onHand: 7, product: { name: 'Hot-swapped kettle' } });
      expect(closed).toBeUndefined();
    } finally {
      watch.close();
      await client.dispose();
    }
  });
});
