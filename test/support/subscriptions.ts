import WebSocket from 'ws';
import Redis from 'ioredis';
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import { liveChannel } from '../../kernel/src/events/envelope';

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

/** One subscription whose results are collected; `next()` waits for the next one. */
export interface Subscription<T> {
  results: FormattedExecutionResult<T, unknown>[];
  next(timeoutMs?: number): Promise<FormattedExecutionResult<T, unknown>>;
  error: Promise<unknown>;
  close(): void;
}

export function subscribe<T = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}): Subscription<T> {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  const waiters: Array<() => void> = [];
  let consumed = 0;
  let rejectError: (e: unknown) => void = () => undefined;
  const error = new Promise<unknown>((resolve) => (rejectError = resolve));
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        results.push(result);
        waiters.splice(0).forEach((wake) => wake());
      },
      error: (e) => rejectError(e),
      complete: () => undefined,
    },
  );
  return {
    results,
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
  };
}

/**
 * Waits until `count` gateway connections listen on a live channel (Redis PUBSUB NUMSUB), so an
 * event published after this is seen by every subscriber: no sleeps, no races.
 */
export async function waitForListeners(keyPrefix: string, name: string, count: number, timeoutMs = 5000): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const channel = liveChannel(keyPrefix, name);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [, listeners] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
      if (Number(listeners) >= count) return;
      if (Date.now() > deadline) throw new Error(`${channel} has ${listeners} listeners, expected ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    redis.disconnect();
  }
}
