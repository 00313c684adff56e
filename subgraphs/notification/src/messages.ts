import type { NotificationKind } from '../../../kernel/src/prisma';
import type { OrderEvent, StockChanged } from '../../../kernel/src/events/envelope';

/** A notification about to be stored for one recipient. */
export interface NotificationDraft {
  userId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  orderId?: string | null;
  productId?: string | null;
}

/** Amounts are in the currency's minor unit (cents). */
export function formatMoney(amount: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${amount} ${currency}`;
  }
}

const lines = (order: OrderEvent) => order.lines.map((line) => `${line.quantity} × ${line.productName}`).join(', ');
const total = (order: OrderEvent) => formatMoney(order.totalAmount, order.currency);
const utcTime = (iso: string) => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The owner of a new order: confirm it (the Telegram message carries Confirm / Cancel buttons). */
export function confirmationRequested(order: OrderEvent): NotificationDraft {
  const deadline = order.confirmationDeadline ? ` by ${utcTime(order.confirmationDeadline)}` : '';
  return {
    userId: order.userId,
    kind: 'ORDER_CONFIRMATION_REQUESTED',
    orderId: order.orderId,
    title: `Please confirm order ${order.number}`,
    body: `${lines(order)}. Total ${total(order)}. Your items are reserved: confirm${deadline}, or the order is cancelled.`,
  };
}

/** An admin: a new order came in. */
export function orderPlaced(order: OrderEvent, adminId: string): NotificationDraft {
  return {
    userId: adminId,
    kind: 'ORDER_PLACED',
    orderId: order.orderId,
    title: `New order ${order.number}`,
    body: `${lines(order)}. Total ${total(order)}. Waiting for the customer to confirm.`,
  };
}

/** An admin: the new orders of a window that were not told one by one. */
export function newOrdersSummary(window: { adminId: string; startsAt: Date; endsAt: Date; untold: number; firstNumber: string; lastNumber: string }): NotificationDraft {
  const { untold } = window;
  const latest = untold > 1 ? `, the latest ${window.lastNumber}` : ` (${window.lastNumber})`;
  return {
    userId: window.adminId,
    kind: 'NEW_ORDERS_SUMMARY',
    title: `${untold} more new ${untold === 1 ? 'order' : 'orders'}`,
    body: `Placed between ${utcTime(window.startsAt.toISOString())} and ${utcTime(window.endsAt.toISOString())}, after ${window.firstNumber}${latest}. Each waits for its customer to confirm.`,
  };
}

/** The owner: what became of their order. */
export function statusChanged(order: OrderEvent): NotificationDraft {
  const reason = order.reason ? ` Reason: ${order.reason}.` : '';
  const [title, body] = ((): [string, string] => {
    switch (order.status) {
      case 'CONFIRMED':
        return [`Order ${order.number} is confirmed`, `Thank you! We are preparing ${lines(order)} (total ${total(order)}).`];
      case 'FULFILLED':
        return [`Order ${order.number} is on its way`, `${lines(order)} left our warehouse.`];
      case 'CANCELLED':
        return [`Order ${order.number} was cancelled`, `Nothing will be charged.${reason}`];
      case 'FAILED':
        return [`Order ${order.number} could not be completed`, `Nothing will be charged.${reason}`];
      default:
        return [`Order ${order.number} is ${order.status.toLowerCase().replace(/_/g, ' ')}`, `${lines(order)}. Total ${total(order)}.`];
    }
  })();
  return { userId: order.userId, kind: 'ORDER_STATUS_CHANGED', orderId: order.orderId, title, body };
}

/** An admin: a product's available stock fell to or under its threshold. */
export function lowStock(stock: StockChanged, adminId: string): NotificationDraft {
  return {
    userId: adminId,
    kind: 'LOW_STOCK',
    productId: stock.productId,
    title: stock.available > 0 ? `Low stock: ${stock.available} left` : 'Out of stock',
    body: `Product ${stock.productId} has ${stock.available} available (threshold ${stock.lowStockThreshold}): ${stock.onHand} on hand, ${stock.reserved} reserved.`,
  };
}

/** Telegram refuses messages longer than this. */
const TELEGRAM_MAX_TEXT = 4096;

/** What the Telegram message says (a very long order is cut short: the feed keeps it whole). */
export function telegramText(notification: { title: string; body: string }): string {
  const text = `${notification.title}\n\n${notification.body}`;
  return text.length > TELEGRAM_MAX_TEXT ? `${text.slice(0, TELEGRAM_MAX_TEXT - 1)}…` : text;
}
