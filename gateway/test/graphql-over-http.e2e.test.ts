import { serverAudits } from 'graphql-http';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import { testEnv } from '../../test/support/stack';

/**
 * graphql-http's own conformance audits for the GraphQL over HTTP spec, against the gateway: every
 * MUST and every SHOULD passes (the audits only ask for `__typename` and bad requests, so no subgraph runs).
 */
describe('the gateway speaks GraphQL over HTTP', () => {
  let gateway: GatewayServer;

  beforeAll(async () => {
    gateway = await startGateway(loadGatewayConfig(testEnv()));
  });
  afterAll(() => gateway?.stop());

  const audits = serverAudits({ url: () => gateway.url });

  it('has audits to run', () => {
    expect(audits.filter((audit) => audit.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(13);
    expect(audits.filter((audit) => audit.name.startsWith('SHOULD')).length).toBeGreaterThanOrEqual(23);
  });

  it.each(audits.filter((audit) => /^(MUST|SHOULD)\b/.test(audit.name)).map((audit) => [audit.name, audit] as const))('%s', async (_name, audit) => {
    const result = await audit.fn();
    expect(result.status === 'ok' ? 'ok' : `${result.status}: ${result.reason}`).toBe('ok');
  });
});
