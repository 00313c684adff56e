import { buildSchema, parse, validate } from 'graphql';
import { gql } from '../../generated/graphql/gateway';
import { useStack, type SubgraphName } from '../../test/support/stack';
import { firstErrorCode, graphql } from '../../test/support/graphql';
import { login, type Session } from '../../test/support/login';
import { subscribe, wsClient } from '../../test/support/subscriptions';

/** Requests each subgraph has received since `reset()`: a refused operation must leave them all at zero. */
function subgraphRequests(servers: Record<SubgraphName, { httpServer: import('node:http').Server }>) {
  const counts: Record<string, number> = {};
  for (const [name, server] of Object.entries(servers)) {
    counts[name] = 0;
    server.httpServer.on('request', (req: import('node:http').IncomingMessage) => {
      if (req.url?.startsWith('/graphql')) counts[name]! += 1;
    });
  }
  return {
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => Object.keys(counts).forEach((name) => (counts[name] = 0)),
  };
}

const STOREFRONT = gql(`
  query Storefront($first: Int) {
    products(first: $first) { totalCount edges { cursor node { id name price { amount currency } inStock stock { available } } } pageInfo { hasNextPage endCursor } }
  }
`);

/** `User.orders { edges { node { user { orders ... } } } }`, `levels` deep: under 1 KB, tens of thousands of SQL queries without limits. */
function nestedOrders(levels: number, root = 'query { me'): string {
  let inner = 'id';
  for (let i = 0; i < levels; i += 1) inner = `user { orders(first: 100) { edges { node { ${inner} } } } }`;
  return `${root} { orders(first: 100) { edges { node { ${inner} } } } }${' }'.repeat(root.split('{').length - 1)}`;
}

describe('operation limits at the gateway', () => {
  const shop = useStack();
  let requests: ReturnType<typeof subgraphRequests>;
  let customer: Session;

  beforeAll(async () => {
    requests = subgraphRequests(shop.stack.servers);
    customer = await login(shop.stack, shop.telegram);
  });
  beforeEach(() => requests.reset());

  it('refuses a 100 KB document of 3,333 duplicate fields at parse time, while an ordinary query sent alongside is answered', async () => {
    const huge = `query { ${'products(first:1){totalCount} '.repeat(3333)}}`;
    expect(huge.length).toBeGreaterThan(99_000);
    const started = Date.now();
    const [refused, ordinary] = await Promise.all([
      shop.stack.gql(huge).then((response) => ({ response, ms: Date.now() - started })),
      shop.stack.gql(STOREFRONT, { first: 5 }).then((response) => ({ response, ms: Date.now() - started })),
    ]);
    expect(firstErrorCode(refused.response)).toBe('QUERY_TOO_LARGE');
    expect(refused.response.errors![0]!.extensions!.limit).toBe(2000);
    expect(refused.response.data).toBeUndefined();
    // Without the token limit this took tens of seconds of validation on the gateway's only thread.
    expect(refused.ms).toBeLessThan(10_000);
    expect(ordinary.response.errors).toBeUndefined();
    expect(ordinary.response.data!.products.edges).toBeInstanceOf(Array);
    expect(ordinary.ms).toBeLessThan(10_000);
  });

  it('refuses a field repeated hundreds of times in one selection set before validation compares every pair', async () => {
    const selecting = (repeats: number) => `query { products(first: 1) { edges { node { ${'id name '.repeat(repeats)} } } } }`;
    const document = selecting(900);
    // What graphql-js's validation (its overlapping-fields rule compares every pair) costs for a third of this document,
    // a lower bound for the whole, measured on this machine as busy as it is now.
    const shape = buildSchema('type Query { products(first: Int): Page } type Page { edges: [Edge] } type Edge { node: Product } type Product { id: ID name: String }');
    const validating = Date.now();
    validate(shape, parse(selecting(300)));
    const validationMs = Date.now() - validating;
    const started = Date.now();
    const response = await shop.stack.gql(document);
    expect(firstErrorCode(response)).toBe('TOO_MANY_FIELD_REPEATS');
    expect(response.errors![0]!.message).toBe('"id" is selected 900 times in one selection set; at most 20 are allowed.');
    // The screen answered, through HTTP, before validation alone could have.
    expect(Date.now() - started).toBeLessThan(validationMs);
    // Fragments spread into one selection set count too, and each fragment once however often it is spread.
    const fragments = Array.from({ length: 21 }, (_, i) => `fragment P${i} on Product { id }`).join(' ');
    const spreads = Array.from({ length: 21 }, (_, i) => `...P${i} ...P${i}`).join(' ');
    const viaFragments = await shop.stack.gql(`query { products(first: 1) { edges { node { ${spreads} } } } } ${fragments}`);
    expect(firstErrorCode(viaFragments)).toBe('TOO_MANY_FIELD_REPEATS');
    expect(viaFragments.errors![0]!.message).toMatch(/"id" is selected 21 times/);
    expect(requests.total()).toBe(0);
  });

  it('refuses 500 aliased searches, and 40, before any subgraph is called', async () => {
    const searches = (n: number) => Array.from({ length: n }, (_, i) => `s${i}: products(filter: { search: "headphones ${i}" }) { totalCount }`).join(' ');
    // 500 of them are over the token limit already: refused while parsing.
    expect(firstErrorCode(await shop.stack.gql(`query { ${searches(500)} }`))).toBe('QUERY_TOO_LARGE');
    const forty = await shop.stack.gql(`query { ${searches(40)} }`);
    expect(firstErrorCode(forty)).toBe('TOO_MANY_ALIASES');
    expect(forty.errors![0]!.message).toMatch(/Aliases limit of 30 exceeded, found 40/);
    expect(requests.total()).toBe(0);
  });

  it('refuses orders nested through their user six deep before any subgraph is called', async () => {
    const query = nestedOrders(6);
    expect(query.length).toBeLessThan(1024);
    const response = await shop.stack.gql(query, {}, { token: customer.accessToken });
    expect(firstErrorCode(response)).toBe('QUERY_TOO_DEEP');
    expect(requests.total()).toBe(0);
  });

  it('prices lists by their `first`: the same nested query passes with small pages and is refused with large ones', async () => {
    const query = gql(`
      query MyOrdersOfMyOrders($n: Int) { me { orders(first: $n) { edges { node { user { orders(first: $n) { edges { node { id } } } } } } } } }
    `);
    const small = await shop.stack.gql(query, { n: 5 }, { token: customer.accessToken });
    expect(small.errors).toBeUndefined();
    expect(small.data!.me!.orders.edges).toEqual([]);

    requests.reset();
    const large = await shop.stack.gql(query, { n: 100 }, { token: customer.accessToken });
    expect(firstErrorCode(large)).toBe('QUERY_TOO_COSTLY');
    // me 1 + orders (1 + 100 × (edges 1 + node 1 + user 1 + orders (1 + 100 × (edges 1 + node 1 + id 1))))
    expect(large.errors![0]!.extensions).toMatchObject({ cost: 30_402, limit: 10_000 });
    expect(requests.total()).toBe(0);
  });

  it('refuses more root fields than allowed', async () => {
    const fields = Array.from({ length: 11 }, (_, i) => `p${i}: product(id: "00000000-0000-4000-8000-00000000000${i % 10}") { id }`).join(' ');
    const response = await shop.stack.gql(`query { ${fields} }`);
    expect(firstErrorCode(response)).toBe('TOO_MANY_ROOT_FIELDS');
    expect(requests.total()).toBe(0);
  });

  it('refuses more directives than allowed', async () => {
    const fields = ['id', 'name', 'sku', 'category'].flatMap((field) => Array.from({ length: 8 }, () => `${field} @include(if: true)`)).join(' ');
    const response = await shop.stack.gql(`query { products(first: 1) { edges { node { ${fields} } } } }`);
    expect(firstErrorCode(response)).toBe('TOO_MANY_DIRECTIVES');
    expect(requests.total()).toBe(0);
  });

  it('answers refusals 200 for application/json and 400 for application/graphql-response+json, with no data', async () => {
    const query = nestedOrders(6);
    const asJson = await shop.stack.gql(query);
    expect(asJson.status).toBe(200);
    const asGraphqlResponse = await shop.stack.gql(query, {}, { headers: { accept: 'application/graphql-response+json' } });
    expect(asGraphqlResponse.status).toBe(400);
    expect(firstErrorCode(asGraphqlResponse)).toBe('QUERY_TOO_DEEP');
    expect(JSON.parse(asGraphqlResponse.raw)).not.toHaveProperty('data');
  });

  it('lets a real storefront page and the introspection query through', async () => {
    const page = await shop.stack.gql(STOREFRONT, { first: 100 });
    expect(page.errors).toBeUndefined();
    const { getIntrospectionQuery } = await import('graphql');
    const introspection = await shop.stack.gql(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true, directiveIsRepeatable: true }));
    expect(introspection.errors).toBeUndefined();
    expect(introspection.data!.__schema.queryType.name).toBe('Query');
  });

  describe('over the websocket, the same limits', () => {
    it('refuses a subscription too deep or too large, and a query with too many aliases', async () => {
      const client = wsClient(shop.stack.gatewayUrl, customer.accessToken);
      try {
        const huge = subscribe(client, `subscription { stockUpdated { ${'productId '.repeat(2100)} } }`);
        expect(await huge.error).toMatchObject([{ extensions: { code: 'QUERY_TOO_LARGE' } }]);

        const deep = subscribe(client, nestedOrders(3, 'subscription { orderUpdated { user'));
        expect(await deep.error).toMatchObject([{ extensions: { code: 'QUERY_TOO_DEEP' } }]);

        // A query over the socket runs through Apollo like an HTTP one: its refusal is the result.
        const aliases = subscribe(client, `query { products(first: 1) { edges { node { ${Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ')} } } } }`);
        expect(await aliases.next()).toMatchObject({ errors: [{ extensions: { code: 'TOO_MANY_ALIASES' } }] });
        expect(requests.total()).toBe(0);
      } finally {
        await client.dispose();
      }
    });
  });
});

describe('operation limits are configurable', () => {
  const shop = useStack({ MAX_QUERY_DEPTH: '3', MAX_QUERY_COST: '50' });

  it('applies MAX_QUERY_DEPTH and MAX_QUERY_COST from the environment', async () => {
    const deep = await graphql(shop.stack.gatewayUrl, 'query { products(first: 1) { edges { node { price { amount } } } } }');
    expect(firstErrorCode(deep)).toBe('QUERY_TOO_DEEP');
    const costly = await graphql(shop.stack.gatewayUrl, 'query { products(first: 50) { edges { id: cursor } } }');
    expect(firstErrorCode(costly)).toBe('QUERY_TOO_COSTLY');
    const fine = await graphql(shop.stack.gatewayUrl, gql(`query FiveProductsTotal { products(first: 5) { totalCount } }`));
    expect(fine.errors).toBeUndefined();
  });
});
