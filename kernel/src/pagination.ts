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
interface KeysetCursor {
  at: Date;
  id: string;
}

function encodeKeysetCursor(row: { createdAt: Date; id: string }): string {
  return encodeCursor({ at: row.createdAt.toISOString(), id: row.id });
}

/** The cursor of a (createdAt, id) list, both parts checked: BAD_USER_INPUT on `field` otherwise. */
function decodeKeysetCursor(cursor: string, field = 'after'): KeysetCursor {
  return decodeCursor(cursor, field, (value) => {
    const at = readTimestamp(value.at);
    return at && typeof value.id === 'string' && isUuid(value.id) ? { at, id: value.id.toLowerCase() } : undefined;
  });
}

/** The most rows one page of a list gives; a client asks for more with `after`. */
export const MAX_PAGE_SIZE = 100;

/** The one check of a list's `first`: a whole number from 1 to `max`, or BAD_USER_INPUT on `first`. */
export function pageSize(first: number, max = MAX_PAGE_SIZE): number {
  if (!Number.isInteger(first) || first < 1 || first > max) throw badUserInput('first', `\`first\` must be a whole number from 1 to ${max}.`);
  return first;
}

/** The Prisma condition for the rows after `cursor` in a (createdAt, id) list sorted `direction`. */
function afterKeyset(cursor: KeysetCursor, direction: 'asc' | 'desc') {
  const beyond = direction === 'desc' ? { lt: cursor.at } : { gt: cursor.at };
  const id = direction === 'desc' ? { lt: cursor.id } : { gt: cursor.id };
  return { OR: [{ createdAt: beyond }, { createdAt: cursor.at, id }] };
}

/** The arguments of one page of a (createdAt, id) list, for Prisma's `findMany`: one row more than `first`, to tell whether a next page exists. */
export interface KeysetQuery<Where> {
  where: Where | { AND: Array<Where | ReturnType<typeof afterKeyset>> };
  orderBy: [{ createdAt: 'asc' | 'desc' }, { id: 'asc' | 'desc' }];
  take: number;
}

export interface Connection<Node> {
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A page fetched with `take: first + 1`: its first `first` rows as edges (`nodeOf` strips what only the cursor needed) and pageInfo. */
export function connection<Row, Node = Row>(
  rows: readonly Row[],
  first: number,
  cursorOf: (row: Row) => string,
  nodeOf: (row: Row) => Node = (row) => row as unknown as Node,
): Connection<Node> {
  const edges = rows.slice(0, first).map((row) => ({ cursor: cursorOf(row), node: nodeOf(row) }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}

/**
 * One page of a (createdAt, id) list sorted `direction` among the rows matching `where`: `first` and
 * `after` are checked (BAD_USER_INPUT) before anything is queried, synchronously, so a caller that
 * queries something else beside it (a count) does not start that either; then `findMany` gets the
 * keyset's where, orderBy and take.
 */
export function keysetPage<Row extends { createdAt: Date; id: string }, Where extends object>(
  args: { first: number; after?: string | null },
  direction: 'asc' | 'desc',
  where: Where,
  findMany: (query: KeysetQuery<Where>) => Promise<Row[]>,
): Promise<Connection<Row>> {
  const first = pageSize(args.first);
  const cursor = args.after ? decodeKeysetCursor(args.after) : undefined;
  return findMany({
    where: cursor ? { AND: [where, afterKeyset(cursor, direction)] } : where,
    orderBy: [{ createdAt: direction }, { id: direction }],
    take: first + 1,
  }).then((rows) => connection(rows, first, encodeKeysetCursor));
}
