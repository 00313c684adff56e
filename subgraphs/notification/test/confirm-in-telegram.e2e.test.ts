import { randomBytes, randomUUID } from 'node:crypto';
import type { FakeTelegram, SentMessage } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import type { GraphQLResponse } from '../../../test/support/graphql';
import { subscribe, untilLive, wsClient } from '../../../test/support/subscriptions';
import { gql } from '../../../generated/graphql/gateway';
import { EventStreams, eventually, notificationProbe } from './notification-support';

const CREATE_PRODUCT = gql(`mutation NotificationTelegramCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { id } }`);
const CREATE_ITEM = gql(`mutation NotificationTelegramCreateItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`);
const STOCK = gql(`query NotificationTelegramStock($id: ID!) { inventoryItem(productId: $id) { onHand reserved available } }`);
const PLACE_ORDER = gql(`mutation NotificationTelegramPlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { id number status } }`);
const CANCEL_ORDER = gql(`mutation NotificationTelegramCancelOrder($id: ID!) { cancelOrder(id: $id) { id status } }`);
const ORDER = gql(`query NotificationTelegramOrder($id: ID!) { order(id: $id) { id status statusHistory { to actor } } }`);
const LIVE = gql(`subscription NotificationTelegramLive { notificationReceived { kind orderId } }`);

function ok<T>(response: GraphQLResponse<T>): T {
  if (response.errors || !response.data) throw new Error(`unexpected errors: ${JSON.stringify(response.errors ?? response.raw)}`);
  return response.data;
}

/** The whole way: a real order, its saga and its events; the person answers with the buttons in Telegram. */
describe('confirming an order in Telegram', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  let customer: Session;

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    [admin, customer] = await Promise.all([login(stack, telegram, adminPhone), login(stack, telegram)]);
  });

  async function product(onHand: number): Promise<string> {
    const input = { sku: `TG-${randomBytes(5).toString('hex')}`, name: 'Gooseneck kettle', category: 'kitchen', price: { amount: 6900, currency: 'USD' } };
    const id = ok(await stack.gql(CREATE_PRODUCT, { input }, { token: admin.accessToken })).createProduct.id;
    ok(await stack.gql(CREATE_ITEM, { input: { productId: id, onHand } }, { token: admin.accessToken }));
    return id;
  }
  const stock = async (id: string) => ok(await stack.gql(STOCK, { id })).inventoryItem!;
  const orderOf = async (id: string) => ok(await stack.gql(ORDER, { id }, { token: customer.accessToken })).order!;

  /** Places an order of `quantity` and waits for the request to confirm it in the customer's chat. */
  async function placeAndAsk(productId: string, quantity: number): Promise<{ id: string; number: string; ask: SentMessage }> {
    const placed = ok(await stack.gql(PLACE_ORDER, { input: { lines: [{ productId, quantity }], idempotencyKey: randomUUID() } }, { token: customer.accessToken })).placeOrder;
    const ask = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Please confirm order ${placed.number}` }, 10_000);
    return { ...placed, ask };
  }

  it('asks with buttons, confirms on Confirm, commits the stock, and tells the customer, the admins and the live feed', async () => {
    const productId = await product(10);
    const streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    const probe = await notificationProbe(stack, streams, customer);
    const client = wsClient(stack.gatewayUrl, customer.accessToken);
    const live = subscribe(client, LIVE);
    try {
      await untilLive(live, stack.env.REDIS_KEY_PREFIX!, probe);
      const order = await placeAndAsk(productId, 2);
      expect(order.ask.text).toContain('2 × Gooseneck kettle');
      expect(order.ask.text).toContain('$138.00');
      expect(order.ask.message.reply_markup?.inline_keyboard.flat().map((b) => b.callback_data)).toEqual([`order:confirm:${order.id}`, `order:cancel:${order.id}`]);
      await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `New order ${order.number}` }, 10_000);
      expect(await stock(productId)).toEqual({ onHand: 10, reserved: 2, available: 8 });

      customer.person.pressButton(order.ask, `order:confirm:${order.id}`);
      const answer = await telegram.waitForCall('answerCallbackQuery', undefined, 10_000);
      expect(answer.params.text).toMatch(/^Confirmed/);
      const edit = await telegram.waitForCall('editMessageText', (c) => c.params.message_id === order.ask.message_id);
      expect(edit.params.text).toMatch(/Confirmed$/);
      expect(edit.params.reply_markup).toBeUndefined();

      const confirmed = await orderOf(order.id);
      expect(confirmed.status).toBe('CONFIRMED');
      expect(confirmed.statusHistory.at(-1)).toEqual({ to: 'CONFIRMED', actor: `user:${customer.userId}` });
      expect(await stock(productId)).toEqual({ onHand: 8, reserved: 0, available: 8 });
      await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${order.number} is confirmed` }, 10_000);

      const kinds = [(await live.next(10_000)).data!.notificationReceived, (await live.next(10_000)).data!.notificationReceived];
      expect(kinds).toEqual([
        { kind: 'ORDER_CONFIRMATION_REQUESTED', orderId: order.id },
        { kind: 'ORDER_STATUS_CHANGED', orderId: order.id },
      ]);
    } finally {
      live.close();
      await client.dispose();
      streams.close();
    }
  });

  it('cancels on Cancel and releases the stock', async () => {
    const productId = await product(10);
    const order = await placeAndAsk(productId, 3);
    customer.person.pressButton(order.ask, `order:cancel:${order.id}`);
    expect((await telegram.waitForCall('answerCallbackQuery', undefined, 10_000)).params.text).toMatch(/^Cancelled/);
    expect((await orderOf(order.id)).status).toBe('CANCELLED');
    await eventually(() => stock(productId), (s) => s.reserved === 0);
    expect(await stock(productId)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${order.number} was cancelled` }, 10_000);
  });

  it('answers a press on an order that is no longer waiting with the order service\'s reason', async () => {
    const productId = await product(10);
    const order = await placeAndAsk(productId, 1);
    ok(await stack.gql(CANCEL_ORDER, { id: order.id }, { token: customer.accessToken }));
    customer.person.pressButton(order.ask, `order:confirm:${order.id}`);
    const answer = await telegram.waitForCall('answerCallbackQuery', undefined, 10_000);
    expect(answer.params.show_alert).toBe(true);
    expect(answer.params.text).toMatch(/cancel/i);
    expect((await orderOf(order.id)).status).toBe('CANCELLED');
  });

  it('answers someone else\'s press (a forged button) as for an order that does not exist, and leaves the order be', async () => {
    const productId = await product(10);
    const order = await placeAndAsk(productId, 1);
    const stranger = await login(stack, telegram);
    let forged = 0;
    /** A press the Telegram app never showed this person: callback data naming another order. */
    const press = async (orderId: string) => {
      telegram.enqueueUpdate({ callback_query: { id: `forged-${++forged}`, from: stranger.person.info, chat_instance: String(stranger.person.chatId), data: `order:confirm:${orderId}` } });
      return (await telegram.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === `forged-${forged}`, 10_000)).params;
    };

    const theirs = await press(order.id);
    expect(theirs).toMatchObject({ text: `Order ${order.id} was not found.`, show_alert: true });
    const unknownId = randomUUID();
    expect({ ...(await press(unknownId)), callback_query_id: 'x' }).toEqual({ ...theirs, text: `Order ${unknownId} was not found.`, callback_query_id: 'x' });
    expect(await orderOf(order.id)).toMatchObject({ status: 'AWAITING_CONFIRMATION' });
    expect(await stock(productId)).toEqual({ onHand: 10, reserved: 1, available: 9 });
  });

  it('tells the admins when an order takes a product\'s stock to its threshold', async () => {
    const productId = await product(6); // threshold 5 by default
    await placeAndAsk(productId, 2);
    const alert = await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `Product ${productId} has 4 available` }, 10_000);
    expect(alert.text).toContain('(threshold 5)');
  });
});
