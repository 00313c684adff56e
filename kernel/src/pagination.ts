import { badUserInput } from './errors';
import { isUuid } from './ids';

/** Opaque Relay cursors: base64url of a small JSON object. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * The one way in for a cursor a client sends back: a JSON object that `read` accepts (it returns
 * undefined for anything else), or BAD_USER_INPUT on `field`. So no cursor reaches a query unchecked.
 */
export function decodeCursor<T>(cursor: string, field: string, read: (value: Record<string, unknown>) => T | undefined, hint = ''): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = value && typeof value === 'object' && !Array.isArray(value) ? read(value as Record<string, unknown>) : undefined;
  if (parsed === undefined) throw badUserInput(field, `"${cursor}" is not a cursor this API returned${hint ? `: ${hint}` : ''}.`);
  return parsed;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A timestamp exactly as `Date.toISOString()` wrote it (what every cursor carries); undefined for anything else. */
export function readTimestamp(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value)) return undefined;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value ? date : undefined;
}

/** Where a list ordered by (createdAt, id) continues: after this row. Every id here is a UUID. */
export interface KeysetCursor {
  at: Date;
  id: string;
}

export function encodeKeysetCursor(row: { createdAt: Date; id: string }): string {
  return encodeCursor({ at: row.createdAt.toISOString(), id: row.id });
}

/** The cursor of a (createdAt, id) list, both parts checked: BAD_USER_INPUT on `field` otherwise. */
export function decodeKeysetCursor(cursor: string, field = 'after'): KeysetCursor {
  return decodeCursor(cursor, field, (value) => {
    const at = readTimestamp(value.at);
    return at && typeof value.id === 'string' && isUuid(value.id) ? { at, id: value.id.toLowerCase() } : undefined;
  });
}

/** The Prisma condition for the rows after `cursor` in a (createdAt, id) list sorted `direction`. */
export function afterKeyset(cursor: KeysetCursor | undefined, direction: 'asc' | 'desc') {
  if (!cursor) return {};
  const beyond = direction === 'desc' ? { lt: cursor.at } : { gt: cursor.at };
  const id = direction === 'desc' ? { lt: cursor.id } : { gt: cursor.id };
  return { OR: [{ createdAt: beyond }, { createdAt: cursor.at, id }] };
}

/** A page of a (createdAt, id) list fetched with `take: first + 1`: its edges and pageInfo. */
export function keysetPage<T extends { createdAt: Date; id: string }>(rows: readonly T[], first: number) {
  const edges = rows.slice(0, first).map((node) => ({ node, cursor: encodeKeysetCursor(node) }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
