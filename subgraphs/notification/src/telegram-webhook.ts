import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import type { Bot } from 'node-telegram-bot-api';
import type { Logger } from '../../../kernel/src/logger';

/** Telegram's updates are a few KB (a long message with entities stays far below this). */
export const WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

type Update = Parameters<Bot['handleUpdate']>[0];

export interface TelegramWebhookOptions {
  path: string;
  /** The `secret_token` given to setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token. */
  secret: string;
  handleUpdate: (update: Update) => Promise<void>;
  logger: Logger;
  maxBodyBytes?: number;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Answers and closes the connection, so the rest of a body nobody will read is not received either. */
function refuse(res: Response, status: number, message: string): void {
  res.set('connection', 'close').status(status).type('text/plain').send(message);
}

/**
 * Serves Telegram's webhook on `app`: the secret is checked before a byte of the body is read, and
 * only a caller holding it gets its body read, up to `maxBodyBytes`. (node-telegram-bot-api's
 * registerExpressWebhook reads the whole body into a string before it looks at the secret.)
 */
export function mountTelegramWebhook(app: Express, options: TelegramWebhookOptions): void {
  const maxBodyBytes = options.maxBodyBytes ?? WEBHOOK_MAX_BODY_BYTES;
  const expected = digest(options.secret);

  const checkSecret: RequestHandler = (req, res, next) => {
    // Digests have one length, so the compare takes the same time whatever was sent (or nothing).
    if (!timingSafeEqual(digest(req.get('x-telegram-bot-api-secret-token') ?? ''), expected)) return refuse(res, 401, 'Unauthorized');
    if (Number(req.get('content-length')) > maxBodyBytes) return refuse(res, 413, 'Payload Too Large');
    next();
  };

  const handle: RequestHandler = async (req, res) => {
    const update = req.body as Update | undefined;
    if (typeof update !== 'object' || update === null || !Number.isInteger(update.update_id)) {
      res.status(400).type('text/plain').send('Bad Request: not a Telegram update');
      return;
    }
    try {
      await options.handleUpdate(update);
      res.status(200).end();
    } catch (error) {
      // A non-2xx makes Telegram deliver the update again.
      options.logger.error({ err: error, updateId: update.update_id }, 'telegram webhook update failed');
      res.status(500).type('text/plain').send('Internal Server Error');
    }
  };

  const bodyErrors: ErrorRequestHandler = (error: { type?: string; status?: number }, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error.type === 'entity.too.large') return refuse(res, 413, 'Payload Too Large');
    res.status(error.status && error.status < 500 ? error.status : 400).type('text/plain').send('Bad Request');
  };

  // Telegram never compresses its updates.
  app.post(options.path, checkSecret, express.json({ limit: maxBodyBytes, inflate: false }), handle, bodyErrors);
}
