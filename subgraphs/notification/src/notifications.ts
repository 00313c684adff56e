import type { PrismaClient } from '../../../kernel/src/prisma';
import { badUserInput } from '../../../kernel/src/errors';
import { decodeCursor, encodeCursor } from '../../../kernel/src/pagination';

/** A user's notification feed. */
export class NotificationService {
  constructor(private readonly prisma: PrismaClient) {}

  /** Newest first, by (createdAt, id) keyset. */
  async listForUser(userId: string, options: { unreadOnly: boolean; first: number; after?: string | null }) {
    const { first, after, unreadOnly } = options;
    if (!Number.isInteger(first) || first < 1 || first > 100) throw badUserInput('first', '`first` must be between 1 and 100.');
    const cursor = after ? decodeCursor(after, 'after') : undefined;
    const base = { userId, ...(unreadOnly ? { readAt: null } : {}) };
    const where = cursor
      ? { ...base, OR: [{ createdAt: { lt: new Date(cursor.at) } }, { createdAt: new Date(cursor.at), id: { lt: cursor.id } }] }
      : base;
    const [rows, totalCount] = await Promise.all([
      this.prisma.notification.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: first + 1 }),
      this.prisma.notification.count({ where: base }),
    ]);
    const edges = rows.slice(0, first).map((node) => ({ node, cursor: encodeCursor({ at: node.createdAt.toISOString(), id: node.id }) }));
    return { edges, totalCount, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
  }
}
