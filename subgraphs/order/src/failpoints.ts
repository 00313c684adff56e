/** The saga points a crash test can stop the process at: each sits between a persisted state and a remote call or its record. */
export const FAILPOINTS = [
  'after-insert',
  'before-reserve',
  'after-reserve',
  'before-commit',
  'after-commit',
  'before-release',
  'after-release',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/**
 * `hit(name)` kills this process with SIGKILL when `name` is armed: no cleanup, no finally blocks,
 * exactly what a crash looks like. Armed only outside production.
 */
export class Failpoints {
  private readonly armed: ReadonlySet<Failpoint>;

  constructor(names: readonly Failpoint[], nodeEnv: string) {
    this.armed = new Set(nodeEnv === 'production' ? [] : names);
  }

  hit(name: Failpoint): void {
    if (this.armed.has(name)) process.kill(process.pid, 'SIGKILL');
  }
}
