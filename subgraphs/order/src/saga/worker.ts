import type { Logger } from '../../../../kernel/src/logger';
import { PollingWorker } from '../../../../kernel/src/polling-worker';
import type { OrderSaga } from './order-saga';

/**
 * Every ORDER_WORKER_INTERVAL_MS: cancels the orders not confirmed in time and resumes every saga
 * whose step is due. Several order processes can run it at once: rows are claimed with
 * FOR UPDATE SKIP LOCKED and a lease, so no two run one step at the same time.
 */
export class SagaWorker {
  private readonly worker: PollingWorker<void>;

  constructor(
    private readonly saga: OrderSaga,
    private readonly options: { intervalMs: number; batchSize?: number; logger: Logger },
  ) {
    this.worker = new PollingWorker({
      run: () => this.round(),
      intervalMs: options.intervalMs,
      onFailure: (error) => options.logger.warn({ err: error }, 'saga worker round failed'),
    });
  }

  /** A round every intervalMs, the first one interval after start. */
  start(): void {
    this.worker.start(this.options.intervalMs);
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }

  /** One round, now (started or not): resolves when every saga it picked up has run. */
  tick(): Promise<void> {
    return this.worker.runNow();
  }

  private async round(): Promise<void> {
    const limit = this.options.batchSize ?? 20;
    const expired = await this.saga.expireUnconfirmed(limit);
    const due = await this.saga.claimDue(limit);
    const ids = [...new Set([...expired, ...due])];
    if (ids.length) this.options.logger.debug({ expired: expired.length, due: due.length }, 'saga worker resumes orders');
    await Promise.all(
      ids.map((id) => this.saga.resume(id).catch((error: unknown) => this.options.logger.error({ err: error, orderId: id }, 'saga run failed'))),
    );
  }
}
