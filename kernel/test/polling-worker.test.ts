import { PollingWorker, type PollingWorkerOptions } from '../src/polling-worker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A round that takes `ms` and records when each round started and how many ran at once. */
function slowRounds(ms: number) {
  const record = { starts: [] as number[], finished: 0, active: 0, mostAtOnce: 0 };
  const run = async () => {
    record.starts.push(Date.now());
    record.active += 1;
    record.mostAtOnce = Math.max(record.mostAtOnce, record.active);
    await sleep(ms);
    record.active -= 1;
    record.finished += 1;
    return record.finished;
  };
  return { record, run };
}

let workers: PollingWorker<unknown>[] = [];
function worker<T>(options: PollingWorkerOptions<T>): PollingWorker<T> {
  const created = new PollingWorker(options);
  workers.push(created as PollingWorker<unknown>);
  return created;
}
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
});

describe('polling worker', () => {
  it('never runs two rounds at once, however many kicks and runNow calls come during a slow one', async () => {
    const { record, run } = slowRounds(60);
    const poller = worker({ run, intervalMs: 5 });
    poller.start();

    const called: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      poller.kick();
      if (i % 10 === 0) called.push(poller.runNow());
      await sleep(4);
    }
    await Promise.all(called);
    await waitFor('a few more rounds', () => record.finished >= 6);

    expect(record.mostAtOnce).toBe(1);
  });

  it('coalesces kicks: many while idle make one round, many during a round make one more after it', async () => {
    const { record, run } = slowRounds(50);
    const poller = worker({ run, intervalMs: 3_600_000 });
    poller.start('on-kick');
    await sleep(30);
    expect(record.starts).toHaveLength(0); // 'on-kick': nothing before the first kick

    for (let i = 0; i < 10; i++) poller.kick();
    await waitFor('the first round to start', () => record.active === 1);
    for (let i = 0; i < 10; i++) poller.kick();
    await waitFor('two rounds', () => record.finished === 2);
    await sleep(150);

    expect(record.starts).toHaveLength(2);
  });

  it('backs off after failures, doubling the pause up to the cap, whatever the kicks, and reports the recovery', async () => {
    const starts: number[] = [];
    const failures: number[] = [];
    const recoveries: Array<[string, number]> = [];
    const poller = worker({
      run: async () => {
        starts.push(Date.now());
        if (starts.length <= 6) throw new Error(`down (${starts.length})`);
        return 'up';
      },
      intervalMs: 10,
      maxBackoffMs: 60,
      onFailure: (_error, count) => failures.push(count),
      onRecovery: (result, count) => recoveries.push([result, count]),
    });
    poller.start();
    // Kicks wait for the backoff: the cause of the failures has not gone away.
    const kicking = setInterval(() => poller.kick(), 3);
    try {
      await waitFor('a round after the recovery', () => starts.length >= 8);
    } finally {
      clearInterval(kicking);
    }

    const pauses = starts.slice(1).map((start, i) => start - starts[i]!);
    // After failure n the pause is 10 * 2^n, capped at 60: 20, 40, 60, 60, 60, 60.
    [20, 40, 60, 60, 60, 60].forEach((expected, i) => expect(pauses[i]).toBeGreaterThanOrEqual(expected - 2));
    expect(pauses[5]).toBeLessThan(500); // capped: uncapped it would be 640
    expect(failures).toEqual([1, 2, 3, 4, 5, 6]);
    expect(recoveries).toEqual([['up', 6]]);
  });

  it('a kick evenWhileBackingOff cuts the backoff short', async () => {
    const starts: number[] = [];
    const poller = worker({
      run: async () => {
        starts.push(Date.now());
        if (starts.length === 1) throw new Error('down');
      },
      intervalMs: 3_600_000,
      maxBackoffMs: 3_600_000,
    });
    poller.start();
    await waitFor('the failed round', () => starts.length === 1);
    await sleep(20);
    poller.kick();
    await sleep(50);
    expect(starts).toHaveLength(1);

    poller.kick({ evenWhileBackingOff: true });
    await waitFor('the next round', () => starts.length === 2);
  });

  it('stop() waits for the round in flight (and a runNow() queued behind it), and nothing runs after it', async () => {
    const { record, run } = slowRounds(80);
    const poller = worker({ run, intervalMs: 5 });
    poller.start();
    await waitFor('a round to start', () => record.active === 1);
    poller.kick(); // asks for another round right after this one
    const queued = poller.runNow();

    await poller.stop();
    expect(record.active).toBe(0);
    expect(record.finished).toBe(2);
    await queued;
    poller.kick();
    await sleep(100);

    expect(record.starts).toHaveLength(2);
    expect(poller.running).toBe(false);
    expect(Reflect.get(poller, 'timer')).toBeUndefined(); // no timer left behind
  });

  it('drops a scheduled round that was waiting behind a runNow() when stop() comes', async () => {
    const { record, run } = slowRounds(60);
    const poller = worker({ run, intervalMs: 3_600_000 });
    poller.start('on-kick');
    const called = poller.runNow();
    poller.kick(); // its round waits behind the runNow
    await sleep(20);

    await poller.stop();
    await called;
    await sleep(100);

    expect(record.starts).toHaveLength(1);
  });
});
