import fs from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { composeSupergraph, readSupergraphConfig, SUPERGRAPH_FILE } from '../scripts/lib/composition';

describe('the supergraph', () => {
  const result = composeSupergraph();

  it('composes without errors', () => {
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('is committed up to date (run `npm run compose` after editing a subgraph schema)', () => {
    expect(result.ok && result.supergraphSdl === fs.readFileSync(SUPERGRAPH_FILE, 'utf8')).toBe(true);
  });

  it('lists the five subgraphs on ports 4001-4005', () => {
    const config = readSupergraphConfig();
    expect(config.federation_version).toMatch(/^=?2\./);
    expect(Object.fromEntries(Object.entries(config.subgraphs).map(([name, s]) => [name, s.routing_url]))).toEqual({
      auth: 'http://127.0.0.1:4001/graphql',
      catalog: 'http://127.0.0.1:4002/graphql',
      inventory: 'http://127.0.0.1:4003/graphql',
      order: 'http://127.0.0.1:4004/graphql',
      notification: 'http://127.0.0.1:4005/graphql',
    });
  });

  it('is what the gateway loads, with each subgraph\'s root fields', async () => {
    const gateway = new ApolloGateway({ supergraphSdl: fs.readFileSync(SUPERGRAPH_FILE, 'utf8') });
    const { schema } = await gateway.load();
    try {
      expect(Object.keys(schema.getQueryType()!.getFields())).toEqual(expect.arrayContaining(['me', 'users', 'product', 'inventoryItem', 'order', 'myNotifications']));
      expect(Object.keys(schema.getMutationType()!.getFields())).toEqual(expect.arrayContaining(['requestOtp', 'verifyOtp', 'refreshToken', 'logout', 'setUserRole']));
    } finally {
      await gateway.stop();
    }
  });
});
