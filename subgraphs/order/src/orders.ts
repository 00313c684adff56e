import type { Order, PrismaClient } from '../../../kernel/src/prisma';
import type { Identity } from '../../../kernel/src/identity';
import { isUuid } from '../../../kernel/src/ids';

/** Orders, visible to their owner, admins and platform services. */
export class OrderService {
  constructor(private readonly prisma: PrismaClient) {}

  async findVisible(identity: Identity, id: string): Promise<Order | null> {
    if (!isUuid(id) || identity.kind === 'anonymous') return null;
    const order = await this.prisma.order.findUnique({ where: { id } });
    if (!order) return null;
    if (identity.kind === 'service' || identity.role === 'ADMIN' || order.userId === identity.userId) return order;
    return null;
  }
}
