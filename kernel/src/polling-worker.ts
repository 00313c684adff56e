import { runOutsideRequests } from './request-context';

export interface PollingWorkerOptions<T> {
  /** One round of work; a rejection counts as a failed round. */
  run: () => Promise<T>;
  /** The pause after a round before the next one, when nobody kicks. */
  intervalMs: number;
  /**
   * After consecutive failed rounds the pause grows, intervalMs * 2^failures, up to this.
   * Without it a failed round is followed by the usual pause.
   */
  maxBackoffMs?: number;
  /** No round starts before this time (epoch ms): a pause the other side asked for. */
  notBefore?: () => number;
  /** A round failed; `failures` counts the consecutive failed rounds, this one included. */
  onFailure?: (error: unknown, failures: number) => void;
  /** A round succeeded, with `result`, after `failures` failed ones. */
  onRecovery?: (result: T, failures: number) => void;
}

/**
 * The one background loop: runs `run` every intervalMs, sooner when kicked, and backs off while it
 * fails. Rounds never overlap (a kick during a round asks for one more right after it, however
 * many kicks came), runNow() queues behind the round in flight, and stop() resolves once that
 * round has ended, with no timer left behind.
 */
export class PollingWorker<T = unknown> {
  private timer?: NodeJS.Timeout;
  private started = false;
  private inFlight = false;
  private again = false;
  private failures = 0;
  /** The last round queued: every round starts after the one before it has settled. */
  private current: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PollingWorkerOptions<T>) {}

  /** True between start() and stop(). */
  get running(): boolean {
    return this.started;
  }

  /**
   * Starts the rounds: the first after `firstRunInMs` (0: at once), or with 'on-kick' at the first
   * kick (for a worker that cannot do anything useful before some event).
   */
  start(firstRunInMs: number | 'on-kick' = 0): void {
    if (this.started) return;
    this.started = true;
    if (firstRunInMs !== 'on-kick') this.schedule(firstRunInMs);
  }

  /**
   * A round soon: there is work. Kicks coalesce. While the worker backs off after a failure, a kick
   * waits for the backoff unless `evenWhileBackingOff` (the cause of the failures is known to be gone).
   */
  kick(options: { evenWhileBackingOff?: boolean } = {}): void {
    if (!this.started) return;
    if (this.inFlight) this.again = true;
    else if (this.failures === 0 || options.evenWhileBackingOff) this.schedule(0);
  }

  /** One round now (started or not), after the one in flight; resolves or rejects with it. */
  runNow(): Promise<T> {
    return this.enqueue(() => this.options.run());
  }

  /** No more rounds; resolves when the round in flight (if any) has ended. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private enqueue<R>(work: () => Promise<R>): Promise<R> {
    const run = this.current.then(work);
    this.current = run.catch(() => undefined);
    return run;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    const notBefore = this.options.notBefore?.() ?? 0;
    // A round works for no one request, even when a request's kick scheduled it: its logs and spans are its own.
    this.timer = setTimeout(() => void runOutsideRequests(() => this.tick()), Math.max(delayMs, notBefore - Date.now(), 0));
    // A process with nothing else to do may exit: stopping the worker is its owner's business.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.inFlight = true;
    this.again = false;
    const { intervalMs, maxBackoffMs } = this.options;
    let delay = intervalMs;
    try {
      // A round that waited behind a runNow() is dropped if stop() came meanwhile.
      const round = await this.enqueue(async () => (this.started ? { result: await this.options.run() } : undefined));
      if (!round) return;
      if (this.failures > 0) this.options.onRecovery?.(round.result, this.failures);
      this.failures = 0;
      if (this.again) delay = 0;
    } catch (error) {
      this.failures += 1;
      this.options.onFailure?.(error, this.failures);
      if (maxBackoffMs !== undefined) delay = Math.min(intervalMs * 2 ** this.failures, maxBackoffMs);
    } finally {
      this.inFlight = false;
    }
    if (this.started) this.schedule(delay);
  }
}
