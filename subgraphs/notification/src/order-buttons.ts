import type { InlineKeyboardMarkup } from 'node-telegram-bot-api';
import { isUuid } from '../../../kernel/src/ids';

/** The inline buttons under a confirmation request, and what a press of one means. callback_data: `order:confirm:<id>`. */
export const OrderButtons = {
  markup(orderId: string): InlineKeyboardMarkup {
    return {
      inline_keyboard: [
        [
          { text: 'Confirm', callback_data: `order:confirm:${orderId}` },
          { text: 'Cancel', callback_data: `order:cancel:${orderId}` },
        ],
      ],
    };
  },

  /** The order and the answer a pressed button carries; undefined for anything else. */
  parse(data: string | undefined): { orderId: string; confirm: boolean } | undefined {
    const match = /^order:(confirm|cancel):(.+)$/.exec(data ?? '');
    if (!match || !isUuid(match[2]!)) return undefined;
    return { orderId: match[2]!, confirm: match[1] === 'confirm' };
  },
};
