import { parse } from 'graphql';
import { JwtService, jwtConfigShape } from '../src/jwt';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { Metrics } from '../src/metrics';
import { MAX_BODY_BYTES } from '../src/http';
import { startSubgraph, type RunningServer } from '../src/server';

/** A subgraph's HTTP front: POST /graphql straight into Apollo, the rest through express, the same answers as before. */
describe('a subgraph over HTTP', () => {
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    const jwt = await JwtService.create(loadConfig(jwtConfigShape, { JWT_SECRET: 'x'.repeat(32) }));
    token = await jwt.signService('order');
    server = await startSubgraph({
      name: 'echo',
      typeDefs: parse(`type Query { echo(text: String!): String! whoami: String! }`),
      resolvers: {
        Query: {
          echo: (_: unknown, { text }: { text: string }) => text,
          whoami: (_: unknown, __: unknown, context: { identity: { kind: string } }) => context.identity.kind,
        },
      },
      jwt,
      logger: createLogger('echo', 'silent'),
      readiness: {},
      metrics: new Metrics(),
      context: (base) => base,
      port: 0,
      shutdown: { SHUTDOWN_TIMEOUT_MS: 5_000, SHUTDOWN_DELAY_MS: 0 },
    });
  });
  afterAll(() => server?.stop());

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body });

  it('answers an operation, with the caller verified and a request id', async () => {
    const response = await post(JSON.stringify({ query: 'query($t: String!) { echo(text: $t) whoami }', variables: { t: 'héllo' } }), { 'x-request-id': 'req-123' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect(response.headers.get('etag')).toBeNull();
    expect(await response.json()).toEqual({ data: { echo: 'héllo', whoami: 'service' } });
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const response = await post(JSON.stringify({ query: '{ echo(text: "x") }', variables: { pad: 'x'.repeat(MAX_BODY_BYTES) } }));
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers a body that is not JSON with 400 BAD_REQUEST', async () => {
    const response = await post('{"query": "{ echo(text: \\"x\\") }"');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('refuses a bad token, and a GraphQL error keeps its code', async () => {
    const anonymous = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ whoami }' }) });
    expect(await anonymous.json()).toEqual({ data: { whoami: 'anonymous' } });
    const forged = (await (await post(JSON.stringify({ query: '{ whoami }' }), { authorization: 'Bearer not.a.token' })).json()) as any;
    expect(forged.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const invalid = await post(JSON.stringify({ query: '{ nope }' }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as any).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('leaves other requests to express: health, a GET, another content type', async () => {
    expect((await fetch(server.url.replace('/graphql', '/health'))).status).toBe(200);
    // Apollo's CSRF prevention refuses a GET without a preflight header, as it did behind express.
    const get = await fetch(`${server.url}?query=${encodeURIComponent('{ echo(text: "x") }')}`);
    expect(get.status).toBe(400);
    const text = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` }, body: '{ echo(text: "x") }' });
    expect(text.status).toBe(400);
  });
});
