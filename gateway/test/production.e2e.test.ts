import { randomBytes } from 'node:crypto';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import { freePort, testEnv } from '../../test/support/stack';
import { gql } from '../../generated/graphql/gateway';
import { firstErrorCode, graphql, type Operation } from '../../test/support/graphql';
import { PRODUCT_TOTAL } from '../../test/support/operations';

const INTROSPECTION = gql(`query QueryTypeName { __schema { queryType { name } } }`);
const TYPE_LOOKUP = gql(`query QueryFieldNames { __type(name: "Query") { fields { name } } }`);
const MISSPELT = '{ prodcts(first: 1) { totalCount } }';
const CSRF_REFUSAL = /^This operation has been blocked as a potential Cross-Site Request Forgery \(CSRF\)/;
type ErrorBody = { data?: unknown; errors: { message: string; extensions: { code: string } }[] };
const STRICT = { headers: { accept: 'application/graphql-response+json' } };

/** The gateway as `NODE_ENV=production` starts it, with a secret of its own (production refuses the tests' one). */
const productionEnv = (overrides: Record<string, string> = {}) => testEnv({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64'), ...overrides });

describe('the gateway in production', () => {
  let gateway: GatewayServer;

  beforeAll(async () => {
    // The catalog's URL leads to something that is not GraphQL (the gateway's own /health): every
    // catalog field then fails in a way no code describes, which the client must see masked.
    const port = await freePort();
    gateway = await startGateway(loadGatewayConfig(productionEnv({ GATEWAY_PORT: String(port), CATALOG_URL: `http://127.0.0.1:${port}/health` })));
  });
  afterAll(() => gateway?.stop());

  it.each<[string, Operation<unknown, Record<string, never>>]>([
    ['__schema', INTROSPECTION],
    ['__type', TYPE_LOOKUP],
  ])('refuses introspection (%s)', async (_name, query) => {
    const response = await graphql(gateway.url, query, {}, STRICT);
    expect(response.status).toBe(400);
    expect(response.data).toBeUndefined();
    expect(response.errors).toHaveLength(1);
    expect(response.errors![0]!.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', validationErrorCode: 'INTROSPECTION_DISABLED' });
    // Under plain application/json a validation failure is 200 (GraphQL over HTTP), refused all the same.
    const legacy = await graphql(gateway.url, query);
    expect(legacy.status).toBe(200);
    expect(legacy.data).toBeUndefined();
    expect(legacy.errors?.[0]?.extensions?.validationErrorCode).toBe('INTROSPECTION_DISABLED');
  });

  it('does not spell out the schema in "Did you mean" suggestions', async () => {
    const response = await graphql(gateway.url, MISSPELT, {}, STRICT);
    expect(response.status).toBe(400);
    expect(firstErrorCode(response)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.errors![0]!.message).toBe('Cannot query field "prodcts" on type "Query".');
    expect(response.raw).not.toMatch(/did you mean|products/i);
  });

  it('serves no Sandbox to a browser', async () => {
    const response = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await response.text();
    expect(text).not.toMatch(/<html|sandbox|embeddable/i);
    expect((JSON.parse(text) as ErrorBody).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  describe('refuses what a cross-site form or image could send (CSRF prevention)', () => {
    it('a GET with a query and neither a content-type nor a preflight header', async () => {
      const url = `${gateway.url}?query=${encodeURIComponent('{ __typename }')}`;
      const response = await fetch(url);
      expect(response.status).toBe(400);
      const body = (await response.json()) as ErrorBody;
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0]!.message).toMatch(CSRF_REFUSAL);
      expect(body.data).toBeUndefined();
      // The same GET from a client that can set a header is answered: the refusal above was the CSRF check.
      const allowed = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
      expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('a POST of text/plain', async () => {
      const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(response.status).toBe(400);
      const body = (await response.json()) as ErrorBody;
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0]!.message).toMatch(CSRF_REFUSAL);
    });
  });

  it('masks an unexpected error: no status, body, address or stack of what failed', async () => {
    const response = await graphql(gateway.url, PRODUCT_TOTAL);
    expect(response.errors).toEqual([{ message: 'Something went wrong on our side; it has been logged.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(response.raw).not.toMatch(/404|Cannot POST|health|127\.0\.0\.1|stack|\bat \S+ \(/i);
  });
});

describe('the gateway in production with GRAPHQL_INTROSPECTION=true and APOLLO_SANDBOX=true', () => {
  let gateway: GatewayServer;

  beforeAll(async () => {
    gateway = await startGateway(loadGatewayConfig(productionEnv({ GRAPHQL_INTROSPECTION: 'true', APOLLO_SANDBOX: 'true' })));
  });
  afterAll(() => gateway?.stop());

  it('answers introspection again', async () => {
    const schema = await graphql(gateway.url, INTROSPECTION, {}, STRICT);
    expect(schema.status).toBe(200);
    expect(schema.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const type = await graphql(gateway.url, TYPE_LOOKUP, {}, STRICT);
    expect(type.errors).toBeUndefined();
    expect(type.data!.__type!.fields!.map((field) => field.name)).toContain('products');
  });

  it('serves Sandbox to a browser again', async () => {
    const response = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/sandbox/i);
  });

  it('still gives no suggestions in validation errors', async () => {
    const response = await graphql(gateway.url, MISSPELT, {}, STRICT);
    expect(response.errors![0]!.message).toBe('Cannot query field "prodcts" on type "Query".');
  });
});

describe('the gateway outside production', () => {
  let gateway: GatewayServer;

  beforeAll(async () => {
    gateway = await startGateway(loadGatewayConfig(testEnv()));
  });
  afterAll(() => gateway?.stop());

  it('suggests the field a misspelt query meant (what production hides)', async () => {
    const response = await graphql(gateway.url, MISSPELT, {}, STRICT);
    expect(response.errors![0]!.message).toBe('Cannot query field "prodcts" on type "Query". Did you mean "products" or "product"?');
  });
});
