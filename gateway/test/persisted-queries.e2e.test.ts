import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { useStack, type Stack } from '../../test/support/stack';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Answer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

/** A raw GraphQL-over-HTTP POST: APQ requests carry `extensions` and may leave out `query`. */
async function post(url: string, payload: Record<string, unknown>, accept = 'application/json'): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(payload) });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

describe('automatic persisted queries', () => {
  const ctx = useStack();
  let stack: Stack;
  beforeAll(() => (stack = ctx.stack));

  it('a hash it does not know is PERSISTED_QUERY_NOT_FOUND; once registered with its body, the hash alone runs it', async () => {
    const query = `query ApqTotal { products(first: 1) { totalCount } }`;
    const hash = sha256(query);
    const miss = await post(stack.gatewayUrl, { extensions: persisted(hash) });
    expect(miss.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(miss.body.data).toBeUndefined();

    const registered = await post(stack.gatewayUrl, { query, extensions: persisted(hash) });
    expect(registered.body.errors).toBeUndefined();
    expect(typeof registered.body.data!.products.totalCount).toBe('number');

    const byHash = await post(stack.gatewayUrl, { extensions: persisted(hash) });
    expect(byHash.status).toBe(200);
    expect(byHash.body).toEqual(registered.body);
  });

  it('refuses a body that does not match its hash', async () => {
    const answer = await post(stack.gatewayUrl, { query: '{ __typename }', extensions: persisted(sha256('{ somethingElse }')) });
    expect(answer.body.errors?.[0]).toEqual({ message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } });
  });
});

describe('trusted documents', () => {
  const ctx = useStack();
  let gateway: GatewayServer;
  let manifestDir: string;
  const listed = `query TrustedTotal { products(first: 1) { totalCount } }`;
  // The id need not be the body's SHA-256: the manifest vouches for it.
  const customId = 'storefront-typename';
  const listedById = `query TrustedTypename { __typename }`;

  beforeAll(async () => {
    manifestDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trusted-documents-'));
    const manifest = path.join(manifestDir, 'persisted-query-manifest.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [
          { id: sha256(listed), name: 'TrustedTotal', type: 'query', body: listed },
          { id: customId, name: 'TrustedTypename', type: 'query', body: listedById },
        ],
      }),
    );
    gateway = await startGateway(loadGatewayConfig({ ...ctx.stack.env, GATEWAY_TRUSTED_DOCUMENTS: manifest }));
  });
  afterAll(async () => {
    await gateway?.stop();
    fs.rmSync(manifestDir, { recursive: true, force: true });
  });

  it('serves a listed operation by its id alone and by its full body', async () => {
    const byId = await post(gateway.url, { extensions: persisted(sha256(listed)) });
    expect(byId.body.errors).toBeUndefined();
    expect(typeof byId.body.data!.products.totalCount).toBe('number');
    const byBody = await post(gateway.url, { query: listed });
    expect(byBody.body).toEqual(byId.body);
    const byCustomId = await post(gateway.url, { extensions: persisted(customId) });
    expect(byCustomId.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses any other operation, by body or by id, before it runs', async () => {
    for (const payload of [{ query: `query Unlisted { products(first: 2) { totalCount } }` }, { extensions: persisted(sha256('{ __typename }')) }, {}]) {
      const json = await post(gateway.url, payload);
      expect(json.status).toBe(200);
      expect(json.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
      expect(json.body.data).toBeUndefined();
      const graphqlResponse = await post(gateway.url, payload, 'application/graphql-response+json');
      expect(graphqlResponse.status).toBe(400);
      expect(graphqlResponse.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    }
    // A listed body with one character changed is another operation.
    expect((await post(gateway.url, { query: `${listed} ` })).body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });
});
