/** GraphQL over HTTP through the gateway, as the soak's people send it, every answer counted. */

export interface Answer<T = Record<string, any>> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
  /** The error's code: extensions.code of the first error, CONNECTION (no answer), TIMEOUT, HTTP_<status> (no GraphQL body), NO_CODE. */
  code?: string;
}

/** Codes that mean the shop refused a request for a reason of the domain, not because something failed. */
export const DOMAIN_CODES = new Set([
  'OUT_OF_STOCK',
  'TOO_MANY_UNCONFIRMED_ORDERS',
  'RESERVATION_EXPIRED',
  'CONFLICT',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'OTP_INVALID',
  'OTP_EXPIRED',
]);

/** An error the soak saw, with when. */
export interface SeenError {
  /** When the request (or wait) began, and when it failed. */
  at: number;
  endedAt: number;
  operation: string;
  code: string;
  message: string;
}

export class Traffic {
  /** Answers by operation: ok and failed. */
  readonly byOperation = new Map<string, { ok: number; failed: number }>();
  readonly errorsByCode = new Map<string, number>();
  /** Every error that is not a refusal of the domain (DOMAIN_CODES), bounded. */
  readonly failures: SeenError[] = [];
  /** Errors without a code, the first few. */
  readonly uncoded: SeenError[] = [];
  private readonly maxKept = 20_000;

  constructor(private readonly url: string) {}

  get served(): number {
    let total = 0;
    for (const { ok, failed } of this.byOperation.values()) total += ok + failed;
    return total;
  }

  /** `startedAt`: when the request (or the wait) began, which is what places an error in a fault's window. */
  /** Counts one outcome; a failure's kept record is returned (its message may be amended later), if it was kept. */
  record(operation: string, code: string | undefined, message = '', startedAt = Date.now()): { message: string } | undefined {
    const tally = this.byOperation.get(operation) ?? { ok: 0, failed: 0 };
    if (code === undefined) tally.ok += 1;
    else tally.failed += 1;
    this.byOperation.set(operation, tally);
    if (code === undefined) return undefined;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    const seen = { at: startedAt, endedAt: Date.now(), operation, code, message: message.slice(0, 200) };
    if (code === 'NO_CODE' && this.uncoded.length < 20) this.uncoded.push(seen);
    if (!DOMAIN_CODES.has(code) && this.failures.length < this.maxKept) this.failures.push(seen);
    return seen;
  }

  /** Sends one operation; the answer's `code` is set when it failed. `operation` names it in the tallies. */
  async send<T = Record<string, any>>(operation: string, query: string, variables: Record<string, unknown> = {}, token?: string, timeoutMs = 15_000): Promise<Answer<T>> {
    let answer: Answer<T>;
    const startedAt = Date.now();
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const raw = await response.text();
      try {
        answer = JSON.parse(raw) as Answer<T>;
        if (answer.errors?.length) answer.code = answer.errors[0]!.extensions?.code ?? 'NO_CODE';
        else if (!answer.data) answer.code = `HTTP_${response.status}`;
      } catch {
        answer = { code: `HTTP_${response.status}`, errors: [{ message: raw.slice(0, 200) }] };
      }
    } catch (error) {
      const name = (error as Error).name;
      answer = { code: name === 'TimeoutError' || name === 'AbortError' ? 'TIMEOUT' : 'CONNECTION', errors: [{ message: (error as Error).message }] };
    }
    this.record(operation, answer.code, answer.errors?.[0]?.message, startedAt);
    return answer;
  }
}
