import WebSocket from 'ws';
import Redis from 'ioredis';
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { liveChannel } from '../../kernel/src/events/envelope';
import { operationText, type Operation } from './graphql';

/** A graphql-ws client against the gateway, as a browser or Sandbox would open it. */
export function wsClient(httpUrl: string, accessToken?: string): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/** A graphql-sse client (GraphQL over server-sent events, one request per operation) against the gateway's /graphql. */
export function sseClient(httpUrl: string, accessToken?: string): SseClient {
  return createSseClient({ url: httpUrl, headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {}, retryAttempts: 0 });
}

/** One subscription whose results are collected; `next()` waits for the next one. */
export interface Subscription<T> {
  results: FormattedExecutionResult<T, unknown>[];
  /** Results of probe events (see `untilLive`), kept out of `results` and `next()`. */
  probes: FormattedExecutionResult<T, unknown>[];
  next(timeoutMs?: number): Promise<FormattedExecutionResult<T, unknown>>;
  error: Promise<unknown>;
  close(): void;
  /** From now on, results that `isProbe` recognises go to `probes`. */
  setAside(isProbe: (result: FormattedExecutionResult<T, unknown>) => boolean): void;
}

/** `query` as for `graphql()`: a `gql(...)` document (its results typed) or a plain string. */
export function subscribe<T = Record<string, any>, V extends Record<string, unknown> = Record<string, unknown>>(client: Client | SseClient, query: Operation<T, V>, variables?: V): Subscription<T> {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  const probes: FormattedExecutionResult<T, unknown>[] = [];
  // Stock probes are told apart by their values, whoever sent them.
  const probeTests: Array<(result: FormattedExecutionResult<T, unknown>) => boolean> = [isStockProbe];
  const waiters: Array<() => void> = [];
  let consumed = 0;
  let rejectError: (e: unknown) => void = () => undefined;
  const error = new Promise<unknown>((resolve) => (rejectError = resolve));
  // Both clients take the same payload and sink.
  const unsubscribe = (client as Client).subscribe<T>(
    { query: operationText(query), variables: variables ?? {} },
    {
      next: (result) => {
        (probeTests.some((isProbe) => isProbe(result)) ? probes : results).push(result);
        waiters.splice(0).forEach((wake) => wake());
      },
      error: (e) => rejectError(e),
      complete: () => undefined,
    },
  );
  return {
    results,
    probes,
    error,
    next: (timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no subscription result within ${timeoutMs} ms; got ${JSON.stringify(results)}`)), timeoutMs);
        const check = () => {
          if (results.length > consumed) {
            clearTimeout(timer);
            resolve(results[consumed++]!);
          } else waiters.push(check);
        };
        check();
      }),
    close: () => unsubscribe(),
    setAside: (isProbe) => probeTests.push(isProbe),
  };
}

/** An event a test publishes on a live channel to find out whether a subscription is live. */
export interface Probe<T = Record<string, any>> {
  /** The live channel's name: `stockUpdated`, `orderUpdated`, `notificationReceived`. */
  channel: string;
  /** An event on it that the subscription accepts. */
  event: Record<string, unknown>;
  /** Recognises the probe's results, which are then kept out of `results`; without it they stay there, and the test must tell them apart. */
  isProbe?: (result: FormattedExecutionResult<T, unknown>) => boolean;
}

/** Marks a stock probe: no real stock goes below zero. */
const PROBE_STOCK = -1;

/** A stock change of `productId` nobody made (onHand and available -1): every subscription sets its results aside. */
export function stockProbe(productId: string): Probe {
  return {
    channel: 'stockUpdated',
    event: { productId, onHand: PROBE_STOCK, reserved: 0, available: PROBE_STOCK, lowStockThreshold: 0, version: 0, at: new Date(0).toISOString() },
  };
}

/** A stock change of `productId` to `level` (on hand and available), as the inventory's outbox relay publishes it. */
export function stockChange(productId: string, level: number): Probe {
  return {
    channel: 'stockUpdated',
    event: { productId, onHand: level, reserved: 0, available: level, lowStockThreshold: 0, version: level, at: new Date().toISOString() },
  };
}

/** A result of a stock probe, for a subscription that selects `onHand` or `available`. */
function isStockProbe(result: FormattedExecutionResult<unknown, unknown>): boolean {
  // The root field, under whatever alias.
  const [update] = Object.values((result.data ?? {}) as Record<string, unknown>);
  if (typeof update !== 'object' || update === null) return false;
  const { onHand, available } = update as { onHand?: unknown; available?: unknown };
  return onHand === PROBE_STOCK || available === PROBE_STOCK;
}

/** Publishes `probe.event` on its live channel, as a service's outbox relay does. */
export async function publishProbe(keyPrefix: string, probe: Probe<any>): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    await redis.publish(liveChannel(keyPrefix, probe.channel), JSON.stringify(probe.event));
  } finally {
    redis.disconnect();
  }
}

/**
 * Resolves once `subscription` is live: an event published from now on reaches it. A gateway holds
 * one Redis subscription per channel for all its subscribers, so Redis (PUBSUB NUMSUB) cannot tell
 * when one more is listening: until the subscription delivers something, this publishes `probe`
 * every 250 ms. Probe results that arrive later still are set aside by `probe.isProbe`.
 */
export async function untilLive<T>(subscription: Subscription<T>, keyPrefix: string, probe: Probe<T>, timeoutMs = 15_000): Promise<void> {
  if (probe.isProbe) subscription.setAside(probe.isProbe);
  const delivered = () => subscription.results.length + subscription.probes.length;
  const before = delivered();
  const deadline = Date.now() + timeoutMs;
  while (delivered() === before) {
    if (Date.now() > deadline) throw new Error(`the subscription was not live within ${timeoutMs} ms (probed with ${JSON.stringify(probe.event)})`);
    await publishProbe(keyPrefix, probe);
    const waitUntil = Math.min(Date.now() + 250, deadline);
    while (delivered() === before && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export type WsMessage = { id?: string; type: string; payload?: any };

/** A raw graphql-transport-ws socket, so a test can misbehave the way a hostile or broken client would. */
export function rawSocket(url: string, options: { headers?: Record<string, string> } = {}) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers: options.headers });
  const messages: WsMessage[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as WsMessage);
    waiters.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  const refused = new Promise<number>((resolve) => socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  const opened = new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', reject);
  });
  const waitFor = (match: (m: WsMessage) => boolean, timeoutMs = 5000) =>
    new Promise<WsMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message; got ${JSON.stringify(messages)}`)), timeoutMs);
      const check = () => {
        const found = messages.find(match);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  /** Until operation `id` has sent a result, publishes `probe` (the gateway's Redis subscription is shared, so only a delivery shows it is live). */
  const untilLive = async (id: string, keyPrefix: string, probe: Probe, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await publishProbe(keyPrefix, probe);
      try {
        return await waitFor((m) => m.id === id && m.type === 'next', 250);
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  };
  return {
    socket,
    messages,
    closed,
    refused,
    opened,
    untilLive,
    send: (message: WsMessage) => socket.send(JSON.stringify(message)),
    init: async (payload: Record<string, unknown> = {}) => {
      await opened;
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
      await waitFor((m) => m.type === 'connection_ack');
    },
    waitFor,
  };
}

