// Traces (OpenTelemetry over OTLP/HTTP) and request ids across the supergraph's processes: each
// service runs as its own process, as `npm start` runs it, exporting to a receiver in this test.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcessStack, type ProcessStack } from './support/stack';
import { FakeTelegram } from './support/fake-telegram';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { bindTelegram, login, randomPhone, type Session } from './support/login';
import { eventually } from './support/eventually';
import { PRODUCT_TOTAL } from './support/operations';
import { PLACE_ORDER, Shop, newKey, ok } from '../subgraphs/order/test/order-support';

const SERVER = 2;
const CONSUMER = 5;

/** The services that exported these spans (or wrote these log lines). */
const servicesOf = (items: Array<{ service: string }>) => [...new Set(items.map((item) => item.service))].sort();

/** Spans whose parent is not in the trace (the root, or a piece not exported yet). */
const rootsOf = (spans: ReceivedSpan[]) => spans.filter((span) => !span.parentSpanId || !spans.some((other) => other.spanId === span.parentSpanId));

interface LogLine {
  service: string;
  requestId?: string;
  msg: string;
}

describe('traces: one trace from the client through the gateway, the subgraphs, the outbox and the consumers', () => {
  const adminPhone = randomPhone();
  const logFile = path.join(process.env.SHOP_TEST_LOG_DIR ?? os.tmpdir(), `tracing-${randomBytes(4).toString('hex')}.log`);
  let receiver: OtlpReceiver;
  let telegram: FakeTelegram;
  let stack: ProcessStack;
  let shop: Shop;
  let customer: Session;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    telegram = await FakeTelegram.start();
    stack = await startProcessStack({
      telegram,
      env: {
        ADMIN_PHONES: adminPhone,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        LOG_LEVEL: 'debug',
        LOG_FILE: logFile,
        // Every request here is to reach its subgraph.
        GATEWAY_RESPONSE_CACHE: 'false',
      },
    });
    shop = new Shop(stack, await login(stack, telegram, adminPhone));
    customer = await login(stack, telegram);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await telegram?.close();
    await receiver?.close();
    fs.rmSync(logFile, { force: true });
  });

  it('placing an order is one trace: the gateway, the order saga, the inventory, and the Telegram notification sent from the event', async () => {
    const productId = await shop.product({ onHand: 5 });
    const placed = await shop.place(customer, [{ productId, quantity: 2 }], newKey());
    const order = ok(placed).placeOrder;
    expect(order.status).toBe('AWAITING_CONFIRMATION');
    // Tracing: the request id the gateway answers with is the trace id.
    const traceId = placed.headers.get('x-request-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `confirm order ${order.number}` });
    const spans = await eventually(
      async () => receiver.trace(traceId),
      (trace) => trace.some((span) => span.name === 'send telegram message') && rootsOf(trace).length === 1 && servicesOf(trace).length >= 4,
      20_000,
    );

    expect(servicesOf(spans)).toEqual(expect.arrayContaining(['gateway', 'order', 'inventory', 'notification']));
    // One tree, rooted at the gateway's server span for the client's request.
    const [root] = rootsOf(spans);
    expect(root).toMatchObject({ service: 'gateway', kind: SERVER });
    expect(root!.parentSpanId).toBeUndefined();
    // The saga's call to the inventory, its SQL, the event through the outbox into the notification consumer, the message to Telegram.
    expect(spans.some((span) => span.service === 'inventory' && span.kind === SERVER)).toBe(true);
    expect(spans.some((span) => span.service === 'inventory' && /^pg\.|^prisma:/.test(span.name))).toBe(true);
    expect(spans.some((span) => span.service === 'order' && span.name === 'publish OrderPlaced')).toBe(true);
    expect(spans.some((span) => span.service === 'notification' && span.name === 'process OrderPlaced' && span.kind === CONSUMER)).toBe(true);
    const sent = spans.filter((span) => span.service === 'notification' && String(span.attributes['url.full'] ?? '').includes('/sendMessage'));
    expect(sent.length).toBeGreaterThan(0);
    if (process.env.SHOW_TRACE) console.log(spans.map((span) => `${span.service} ${span.kind} ${span.name} ${span.spanId} <- ${span.parentSpanId}`).join('\n'));
    // The bot's token is in Telegram's URLs, never in a span.
    expect(JSON.stringify(receiver.spans)).not.toContain(telegram.token);
  });

  it("continues a client's traceparent: the gateway and the subgraph it asks join the client's trace", async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentSpanId = randomBytes(8).toString('hex');
    const response = await stack.gql(PRODUCT_TOTAL, {}, { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
    expect(response.errors).toBeUndefined();
    expect(response.headers.get('x-request-id')).toBe(traceId);

    const spans = await eventually(
      async () => receiver.trace(traceId),
      (trace) => servicesOf(trace).includes('catalog') && servicesOf(trace).includes('gateway'),
    );
    expect(spans.find((span) => span.service === 'gateway' && span.kind === SERVER)?.parentSpanId).toBe(parentSpanId);
  });

  it('a Telegram update read by long polling starts a trace: sharing a contact binds the phone at the auth service under it', async () => {
    const person = await bindTelegram(telegram, randomPhone());
    const isContactUpdate = (span: ReceivedSpan) =>
      span.service === 'notification' && span.name === 'telegram update' && span.kind === CONSUMER && span.attributes['telegram.update_type'] === 'message';
    // The person's two updates (/start, then the contact): the contact's trace is the one that reaches the auth service.
    const spans = await eventually(
      async () => receiver.spans.filter(isContactUpdate).map((update) => receiver.trace(update.traceId)),
      (traces) => traces.some((trace) => servicesOf(trace).includes('auth') && trace.some((span) => String(span.attributes['url.full'] ?? '').includes('/sendMessage'))),
      20_000,
    ).then((traces) => traces.find((trace) => servicesOf(trace).includes('auth'))!);
    const [root] = rootsOf(spans);
    expect(rootsOf(spans)).toHaveLength(1);
    expect(root).toMatchObject({ service: 'notification', name: 'telegram update', kind: CONSUMER });
    expect(spans.some((span) => span.service === 'auth' && span.kind === SERVER)).toBe(true);
    expect(person.chatId).toBeDefined();
  });

  it("writes a request's log lines, in the gateway and in the subgraph, under one request id: its trace id", async () => {
    const response = await stack.gql(PRODUCT_TOTAL, {});
    const requestId = response.headers.get('x-request-id')!;
    const lines = await eventually(
      async () =>
        fs
          .readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LogLine)
          .filter((line) => line.requestId === requestId),
      (found) => servicesOf(found).length >= 2,
    );
    expect(servicesOf(lines)).toEqual(['catalog', 'gateway']);
    // ...and the trace of that id is the request's.
    await eventually(
      async () => receiver.trace(requestId),
      (trace) => trace.some((span) => span.service === 'gateway' && span.kind === SERVER),
    );
  });
});
