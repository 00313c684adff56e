/**
 * Fake Telegram Bot API server for tests (HTTP on 127.0.0.1, port 0 by default).
 *
 * node-telegram-bot-api 2.1.0: facts for app code (checked against the installed
 * dist/ and test/support/fake-telegram.test.ts). v2 is NOT the 0.x API
 * (`new TelegramBot(token, { polling: true })`, `bot.onText`, ...): none of that exists.
 *
 * Imports (CommonJS resolves dist/core/index.cjs):
 *   import { Bot, Api, Context, InlineKeyboardBuilder, ReplyKeyboardBuilder, webhookCallback,
 *            nodeFrameworkWebhook, longPoll, TelegramApiError, TelegramBotError, NetworkError,
 *            TimeoutError, ParseError, isTransientError } from 'node-telegram-bot-api';
 *   import type { Update, Message, User, Contact, CallbackQuery, ReplyMarkup } from 'node-telegram-bot-api';
 *   import { run, createWebhookServer, startWebhook } from 'node-telegram-bot-api/node';
 *   tsc caveat: our tsconfig uses moduleResolution "node10", which ignores package "exports",
 *   so tsc cannot find the types of 'node-telegram-bot-api/node' (TS2307; tsx and jest run it
 *   fine). Everything above except run/createWebhookServer/startWebhook/fromPath is in the root
 *   entry; otherwise add a tsconfig "paths" entry to dist/node/index.d.cts.
 * Construct:
 *   new Bot(token, { apiRoot?, maxRetries?, timeoutMs?, retryBackoffMs?, maxRetryAfterMs?, fetch?, rateLimit? })
 *   new Api(token, same options); bot.api is the Bot's Api. apiRoot default https://api.telegram.org;
 *   requests are POST `${apiRoot}/bot${token}/${method}`, x-www-form-urlencoded (objects such as
 *   reply_markup JSON-encoded inside; numbers/booleans as strings), multipart only with uploads.
 *   Defaults: maxRetries 2, retryBackoffMs 300, maxRetryAfterMs 60000, timeoutMs 300000.
 *   Bot never calls getMe by itself (no bot username in ctx; `/start@anybot` matches command('start')).
 * Polling:
 *   const done = bot.startPolling(undefined, { timeout?: 30, allowedUpdates?, limit?, retry?: true, onError? });
 *   // Promise<void>, runs until bot.stop() (aborts the pending getUpdates at once), then resolves.
 *   // Not re-entrant: stop() and await `done` before starting again. run(bot, opts) from /node adds SIGINT/SIGTERM.
 *   // getUpdates 429/5xx/network errors are retried forever; any other 4xx (401, 409 Conflict) makes `done` reject.
 * Handlers (koa-style middleware, registration order wins; ctx: Context):
 *   bot.command('start', async (ctx) => { ctx.match; ctx.from?.id; ctx.chatId; });
 *     (ctx.match is the text after "/start ", e.g. a deep-link payload, or "")
 *   bot.on('message', async (ctx, next) => { const c = ctx.message?.contact; if (!c) return next();
 *     c.phone_number; c.user_id; });
 *     (there is no 'message:contact' filter; check c.user_id === ctx.from?.id: people can share others' contacts)
 *   bot.hears('text' | /re/, handler);   bot.use(mw);   bot.on(['message', 'callback_query'], ...)
 *   bot.on('callback_query', async (ctx) => { ctx.callbackQuery!.data; ctx.callbackQuery!.message;
 *     await ctx.answerCallbackQuery({ text?, show_alert? }); });
 *   bot.catch((err, ctx) => ...) replaces the default boundary (console.error, update consumed). A handler
 *   error never stops polling; rethrowing in bot.catch makes startPolling reject / the webhook answer 500.
 * Replying:
 *   ctx.reply(text, other?) === bot.api.sendMessage({ chat_id: ctx.chatId, text, ...other }) -> Promise<Message>
 *   Contact request: reply_markup: new ReplyKeyboardBuilder().requestContact('Share phone')
 *       .build({ resize_keyboard: true, one_time_keyboard: true })
 *     = { keyboard: [[{ text: 'Share phone', request_contact: true }]], resize_keyboard: true, one_time_keyboard: true }
 *   Remove it: reply_markup: { remove_keyboard: true }
 *   Inline: reply_markup: new InlineKeyboardBuilder().text('Confirm', 'confirm:42').row().url('Docs', url).build()
 *     = { inline_keyboard: [[{ text: 'Confirm', callback_data: 'confirm:42' }], [{ text: 'Docs', url }]] }
 *   bot.api.editMessageText({ chat_id, message_id, text, reply_markup? }), editMessageReplyMarkup({ chat_id, message_id, reply_markup? })
 * Errors (all extend TelegramBotError, which has a string `.code`):
 *   { ok: false } answer -> TelegramApiError: code 'ETELEGRAM', errorCode: number, description: string,
 *     parameters?: { retry_after?, migrate_to_chat_id? }, retryAfter getter (seconds), message `${errorCode}: ${description}`.
 *   403 (e.g. 'Forbidden: bot was blocked by the user') and every other 4xx: thrown at once, never retried.
 *   429: retried up to maxRetries after sleeping retry_after s (1 if absent) when retry_after*1000 <= maxRetryAfterMs;
 *     when exhausted or too long -> TelegramApiError errorCode 429, err.retryAfter.
 *   5xx: retried with 150-300 ms, 300-600 ms jittered backoff; exhausted -> TelegramApiError (JSON body) or NetworkError.
 *   fetch failure -> NetworkError ('EFETCH'); timeout -> TimeoutError ('ETIMEOUT'); bad JSON -> ParseError ('EPARSE').
 *   isTransientError(err) is true for Network/Timeout errors and TelegramApiError 429 or >= 500.
 * Webhook:
 *   webhookCallback(bot, { secretToken, fastAck?, waitUntil? }): (req: Request) => Promise<Response>. secretToken is
 *   required (or allowUnauthenticated: true) and must match /^[A-Za-z0-9_-]{1,256}$/ (else throws at creation).
 *   Answers 405 non-POST, 401 wrong/missing X-Telegram-Bot-Api-Secret-Token, 400 bad JSON, else 200 after the handler.
 *   nodeFrameworkWebhook(bot, opts) gives a node:http/express (req, res) handler; createWebhookServer(bot, { path, secretToken })
 *   returns an unstarted http.Server; startWebhook(bot, { port, hostname?, path?, secretToken }) resolves only when the
 *   server closes (SIGINT/SIGTERM), so tests should use createWebhookServer or nodeFrameworkWebhook.
 *   Register with bot.api.setWebhook({ url, secret_token }); bot.api.deleteWebhook({ drop_pending_updates? }).
 *
 * What this fake does (see the FakeTelegram class below):
 *   methods getMe, getUpdates (long poll; offset confirms, allowed_updates, 409 while a webhook is set or when a
 *   newer getUpdates replaces a pending one), sendMessage, setWebhook / deleteWebhook / getWebhookInfo (updates
 *   POSTed as JSON with X-Telegram-Bot-Api-Secret-Token, retried with backoff), answerCallbackQuery,
 *   editMessageText, editMessageReplyMarkup. Bodies may be urlencoded, JSON, multipart or a query string.
 *   Errors use Telegram's wording, e.g. 400 'Bad Request: chat not found' (chat id nobody created with tg.user),
 *   403 "Forbidden: bot can't initiate conversation with a user" (user never wrote to the bot),
 *   400 'Bad Request: message is not modified: ...' (an edit that changes nothing).
 *   Faults: failNext (the next calls answer an error), outage (every call for a while), delayNext (the next calls answer late).
 *   Message.reply_markup in results holds only inline keyboards, as in Telegram; SentMessage keeps the full params.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AnswerCallbackQueryParams,
  CallbackQuery,
  Chat,
  DeleteWebhookParams,
  EditMessageReplyMarkupParams,
  EditMessageTextParams,
  GetUpdatesParams,
  InlineKeyboardButton,
  InlineKeyboardMarkup,
  KeyboardButton,
  Message,
  MessageEntity,
  ReplyKeyboardMarkup,
  ReplyMarkup,
  ResponseParameters,
  SendMessageParams,
  SetWebhookParams,
  Update,
  User,
  WebhookInfo,
} from 'node-telegram-bot-api';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** The JSON envelope of every Bot API answer. */
export type TelegramResponse<T = unknown> =
  | { ok: true; result: T; description?: string }
  | { ok: false; error_code: number; description: string; parameters?: ResponseParameters };

/** How a request carried its parameters. */
export type BodyEncoding = 'urlencoded' | 'json' | 'multipart' | 'query' | 'none';

/** An uploaded file as seen in a multipart body. */
export interface UploadedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
}

/** Parameter types of the methods the fake implements. */
export interface KnownMethodParams {
  getMe: Record<string, never>;
  getUpdates: GetUpdatesParams;
  sendMessage: SendMessageParams;
  setWebhook: SetWebhookParams;
  deleteWebhook: DeleteWebhookParams;
  getWebhookInfo: Record<string, never>;
  answerCallbackQuery: AnswerCallbackQueryParams;
  editMessageText: EditMessageTextParams;
  editMessageReplyMarkup: EditMessageReplyMarkupParams;
}
export type KnownMethod = keyof KnownMethodParams;
export type ParamsOf<M extends string> = M extends KnownMethod ? KnownMethodParams[M] : Record<string, unknown>;

/** One request the bot made (recorded when it was answered). */
export interface RecordedCall<P = Record<string, unknown>> {
  /** Canonical method name (Telegram method names are case-insensitive). */
  readonly method: string;
  /** Parameters, parsed: numbers/booleans coerced, JSON fields (reply_markup, entities, ...) parsed to objects. */
  readonly params: P;
  readonly encoding: BodyEncoding;
  /** The answer the fake gave. */
  readonly response: TelegramResponse;
  readonly ok: boolean;
  /** `Date.now()` when answered. */
  readonly at: number;
  /** 'webhook-response' when the call came back in a webhook response body. */
  readonly via: 'http' | 'webhook-response';
}

/** A message the bot sent successfully: the sendMessage params plus what the fake answered. */
export type SentMessage = SendMessageParams & {
  readonly message_id: number;
  /** The Message returned to the bot. */
  readonly message: Message;
};

export interface MessageMatcher {
  chatId?: number | string;
  /** Substring of the text. */
  textIncludes?: string;
  textMatches?: RegExp;
}
export type MessagePredicate = (message: SentMessage) => boolean;

/** Error injected by `failNext`. */
export interface FaultSpec {
  /** 429, 403, 400, 500, 502 ... (also the HTTP status). */
  errorCode: number;
  /** Defaults to Telegram's wording for the code. */
  description?: string;
  /** For 429: seconds, sent as parameters.retry_after (default 1 for 429). */
  retryAfter?: number;
  migrateToChatId?: number;
  /** Only a call for this chat_id takes the fault; other chats' calls pass by it. Without it, the next call of the method does. */
  chatId?: number | string;
}

export interface WebhookState {
  readonly url: string;
  readonly secretToken: string | null;
  readonly allowedUpdates: readonly string[] | null;
  readonly maxConnections: number;
}

/** One attempt to POST an update to the webhook. */
export interface WebhookDelivery {
  readonly updateId: number;
  readonly url: string;
  readonly secretToken: string | null;
  /** HTTP status, absent on a network error. */
  readonly status?: number;
  readonly error?: string;
  readonly ok: boolean;
  readonly at: number;
}

export interface FakeTelegramOptions {
  /** Default '123456789:AAFakeTokenForTests-0123456789abcdefghi'. The bot id is the part before ':'. */
  token?: string;
  /** Default 0 (random free port). */
  port?: number;
  host?: string;
  bot?: { firstName?: string; username?: string };
  /** Webhook redelivery: base backoff in ms (default 100, doubling, capped at maxDelayMs=2000). */
  webhookRetryDelayMs?: number;
  webhookRetryMaxDelayMs?: number;
  /** Attempts per update before the fake gives up on it, like Telegram does eventually (default 10). */
  webhookMaxAttempts?: number;
  /** Per delivery HTTP timeout (default 10000 ms). */
  webhookTimeoutMs?: number;
}

export interface UserOptions {
  firstName?: string;
  lastName?: string;
  username?: string;
  languageCode?: string;
  /** Treat the user as having already opened the bot (so the bot may message them first). Default false. */
  hasStartedBot?: boolean;
}

export interface ContactOptions {
  /** contact.user_id; defaults to the sender's own id. `null` leaves it out (a contact not on Telegram). */
  ownerUserId?: number | null;
  firstName?: string;
  lastName?: string;
  vcard?: string;
}

/** A message to refer to: a SentMessage from waitForMessage, or a Message. */
export type MessageRef = { message_id: number } & ({ chat: { id: number } } | { chat_id: number | string });

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

type Params = Record<string, unknown>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An Update without its update_id. */
export type UpdatePayload = DistributiveOmit<Update, 'update_id'>;

const DEFAULT_TOKEN = '123456789:AAFakeTokenForTests-0123456789abcdefghi';
/** Telegram's default when allowed_updates is unset or []. */
const NOT_DEFAULT_UPDATES = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);
const SECRET_TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;
const MAX_BODY = 60 * 1024 * 1024;

/** Fields kept as strings even when they look like numbers, booleans or JSON. */
const STRING_FIELDS = new Set([
  'text', 'caption', 'callback_query_id', 'inline_message_id', 'data', 'url', 'secret_token', 'parse_mode',
  'ip_address', 'query', 'phone_number', 'first_name', 'last_name', 'vcard', 'title', 'description',
  'message_effect_id', 'business_connection_id', 'emoji', 'address', 'game_short_name', 'start_parameter',
  'payload', 'currency', 'provider_token', 'name', 'short_name', 'sticker', 'photo', 'document', 'video',
  'audio', 'voice', 'animation', 'video_note', 'thumbnail', 'certificate', 'file_id', 'custom_emoji_id',
  'shipping_query_id', 'pre_checkout_query_id', 'error_message', 'inline_query_id', 'next_offset',
]);

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden: bot was blocked by the user',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const NOT_MODIFIED =
  'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

/** Marker: the client went away before the answer was ready. */
const GONE = Symbol('client-gone');
type HandlerResult = TelegramResponse | typeof GONE;

interface RequestContext {
  res: http.ServerResponse | null;
}

interface ChatState {
  readonly user: User;
  readonly chat: Chat;
  started: boolean;
  blocked: boolean;
  lastMessageId: number;
  replyKeyboard: ReplyKeyboardMarkup | null;
}

interface PendingPoll {
  limit: number;
  timer: NodeJS.Timeout;
  settle: (result: HandlerResult) => void;
}

interface Waiter<T> {
  match: (value: T) => boolean;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function ok<T>(result: T, description?: string): TelegramResponse<T> {
  return description === undefined ? { ok: true, result } : { ok: true, result, description };
}

function fail(errorCode: number, description: string, parameters?: ResponseParameters): TelegramResponse<never> {
  return parameters ? { ok: false, error_code: errorCode, description, parameters } : { ok: false, error_code: errorCode, description };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function coerce(key: string, value: string): unknown {
  if (STRING_FIELDS.has(key)) return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  if (/^-?\d+\.\d+$/.test(value)) return Number(value);
  const head = value.trimStart()[0];
  if (head === '{' || head === '[') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value; // left as a string: the method reports "can't parse"
    }
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function updateTypeOf(update: Update): string {
  const key = Object.keys(update).find((k) => k !== 'update_id');
  return key ?? 'unknown';
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function clip(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function describeMarkup(markup: unknown): string {
  if (!isRecord(markup)) return '';
  if (Array.isArray(markup.inline_keyboard)) {
    const buttons = (markup.inline_keyboard as InlineKeyboardButton[][]).flat().map((b) => `${b.text}=>${b.callback_data ?? b.url ?? '?'}`);
    return ` inline[${buttons.join(', ')}]`;
  }
  if (Array.isArray(markup.keyboard)) {
    const buttons = (markup.keyboard as KeyboardButton[][]).flat().map((b) => (b.request_contact ? `${b.text}(contact)` : b.text));
    return ` keyboard[${buttons.join(', ')}]`;
  }
  if (markup.remove_keyboard === true) return ' remove_keyboard';
  if (markup.force_reply === true) return ' force_reply';
  return ` ${JSON.stringify(markup)}`;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw new Error('Request Entity Too Large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function parseParams(req: http.IncomingMessage, url: URL, body: Buffer): Promise<{ params: Params; encoding: BodyEncoding }> {
  const params: Params = {};
  let encoding: BodyEncoding = 'none';
  for (const [key, value] of url.searchParams) {
    params[key] = coerce(key, value);
    encoding = 'query';
  }
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (body.length === 0) return { params, encoding };
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (!isRecord(parsed)) throw new Error('JSON body must be an object');
    for (const [key, value] of Object.entries(parsed)) params[key] = typeof value === 'string' ? coerce(key, value) : value;
    return { params, encoding: 'json' };
  }
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') params[key] = coerce(key, value);
      else {
        const file: UploadedFile = { filename: value.name, contentType: value.type, size: value.size };
        params[key] = file;
      }
    }
    return { params, encoding: 'multipart' };
  }
  // Telegram treats anything else as application/x-www-form-urlencoded.
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params[key] = coerce(key, value);
  return { params, encoding: 'urlencoded' };
}

function botCommandEntities(text: string): MessageEntity[] {
  const entities: MessageEntity[] = [];
  const re = /(^|\s)(\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,})?)(?=\s|$)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const command = m[2] ?? '';
    entities.push({ type: 'bot_command', offset: m.index + (m[1] ?? '').length, length: command.length });
  }
  return entities;
}

/** A one-shot wake-up signal for the webhook loop. */
class Wake {
  private waiters: Array<() => void> = [];
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.waiters.push(done);
    });
  }
  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

// ---------------------------------------------------------------------------------------------
// Simulated user
// ---------------------------------------------------------------------------------------------

interface UserBackend {
  state(): ChatState;
  send(extra: Partial<Message>): Update;
  press(message: MessageRef, data: string): Update;
  sentTo(): SentMessage[];
}

/** A person talking to the bot in a private chat (chat id = user id). Each action enqueues one Update. */
export class FakeUser {
  /** @internal */
  constructor(private readonly backend: UserBackend) {}

  get id(): number {
    return this.backend.state().user.id;
  }
  /** Private chat id (= user id). */
  get chatId(): number {
    return this.backend.state().chat.id;
  }
  /** The User object the bot sees in `from`. */
  get info(): User {
    return { ...this.backend.state().user };
  }
  /** The reply keyboard currently shown to the user (null after remove_keyboard / a one-time keyboard used). */
  get replyKeyboard(): ReplyKeyboardMarkup | null {
    return this.backend.state().replyKeyboard;
  }
  /** Messages the bot sent to this chat (successful sendMessage calls). */
  get messages(): SentMessage[] {
    return this.backend.sentTo();
  }

  /** A text message; a leading `/command` gets a bot_command entity as in Telegram. */
  sendText(text: string): Update {
    const entities = botCommandEntities(text);
    return this.backend.send(entities.length > 0 ? { text, entities } : { text });
  }

  /** `sendCommand('/start')`, `sendCommand('/start abc')` or `sendCommand('/start', 'abc')`. */
  sendCommand(command: string, args?: string): Update {
    const cmd = command.startsWith('/') ? command : `/${command}`;
    return this.sendText(args === undefined || args === '' ? cmd : `${cmd} ${args}`);
  }

  /** A `contact` message. contact.user_id is the sender's own id unless `ownerUserId` says otherwise. */
  shareContact(phoneNumber: string, options: ContactOptions = {}): Update {
    const me = this.backend.state().user;
    const own = options.ownerUserId === undefined || options.ownerUserId === me.id;
    const contact: NonNullable<Message['contact']> = {
      phone_number: phoneNumber,
      first_name: options.firstName ?? (own ? me.first_name : 'Contact'),
    };
    const lastName = options.lastName ?? (own ? me.last_name : undefined);
    if (lastName !== undefined) contact.last_name = lastName;
    if (options.ownerUserId !== null) contact.user_id = options.ownerUserId ?? me.id;
    if (options.vcard !== undefined) contact.vcard = options.vcard;
    return this.backend.send({ contact });
  }

  /**
   * Tap a button of the reply keyboard currently shown: a request_contact button shares the user's own
   * contact (needs `phoneNumber`), a plain button sends its text. Throws if no such button is shown.
   */
  tapReplyButton(text: string, phoneNumber?: string): Update {
    const keyboard = this.backend.state().replyKeyboard;
    const button = keyboard?.keyboard.flat().find((b) => b.text === text);
    if (!keyboard || !button) {
      const shown = keyboard ? keyboard.keyboard.flat().map((b) => b.text).join(', ') : 'no reply keyboard';
      throw new Error(`User ${this.id} cannot tap "${text}": shown: ${shown}`);
    }
    if (button.request_contact) {
      if (phoneNumber === undefined) throw new Error(`"${text}" requests the contact: pass the phone number`);
      return this.shareContact(phoneNumber);
    }
    return this.sendText(text);
  }

  /** Press an inline button (by its callback_data) of a message the bot sent to this user. */
  pressButton(message: MessageRef, callbackData: string): Update {
    return this.backend.press(message, callbackData);
  }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

type MethodHandler = (params: Params, ctx: RequestContext) => HandlerResult | Promise<HandlerResult>;

/**
 * Usage:
 *   const tg = await FakeTelegram.start();
 *   const bot = new Bot(tg.token, { apiRoot: tg.apiRoot });
 *   const polling = bot.startPolling(undefined, { timeout: 30 });
 *   tg.user(42, { firstName: 'Ann' }).sendCommand('/start');
 *   const reply = await tg.waitForMessage({ chatId: 42, textIncludes: 'Welcome' });
 *   bot.stop(); await polling; await tg.close();   // stop the bot first: a bot still polling a closed
 *                                                  // fake retries getUpdates every second (NetworkError)
 */
export class FakeTelegram {
  readonly token: string;
  readonly botUser: User;

  private readonly server: http.Server;
  private readonly options: Required<Omit<FakeTelegramOptions, 'token' | 'port' | 'host' | 'bot'>>;
  private port = 0;
  private host = '127.0.0.1';
  private closed = false;
  private closing: Promise<void> | null = null;

  private readonly log: RecordedCall[] = [];
  private readonly sentMessagesList: SentMessage[] = [];
  private readonly chats = new Map<number, ChatState>();
  private readonly messages = new Map<string, Message>();
  private readonly callbackQueries = new Map<string, { query: CallbackQuery; answered: boolean }>();
  private readonly faults = new Map<string, FaultSpec[]>();
  private readonly delays = new Map<string, Array<{ ms: number; chatId?: number | string }>>();
  private outageState: { fault: FaultSpec; until: number; methods: Set<string> | null } | null = null;

  private lastUpdateId = 100_000_000;
  private callbackCounter = 0;
  private queue: Update[] = [];
  private readonly processed = new Set<number>();
  private readonly dropped = new Set<number>();
  private allowedUpdates: Set<string> | null = null;
  private pendingPoll: PendingPoll | null = null;
  private wakeScheduled = false;

  private webhookState: WebhookState | null = null;
  private webhookGeneration = 0;
  private readonly webhookWake = new Wake();
  private readonly deliveryLog: WebhookDelivery[] = [];
  private readonly inflightDeliveries = new Set<http.ClientRequest>();
  private webhookLastError: { date: number; message: string } | null = null;

  private readonly messageWaiters: Array<Waiter<SentMessage>> = [];
  private readonly consumedMessages = new Set<SentMessage>();
  private readonly sentByResponse = new WeakMap<TelegramResponse, SentMessage>();
  private readonly callWaiters: Array<Waiter<RecordedCall>> = [];
  private readonly consumedCalls = new Set<RecordedCall>();
  private readonly processedWaiters: Array<Waiter<void>> = [];
  private readonly openResponses = new Set<http.ServerResponse>();

  private readonly handlers: Record<KnownMethod, MethodHandler> = {
    getMe: () => ok(this.botUser),
    getUpdates: (p, ctx) => this.getUpdates(p, ctx),
    sendMessage: (p) => this.sendMessage(p),
    setWebhook: (p) => this.setWebhook(p),
    deleteWebhook: (p) => this.deleteWebhook(p),
    getWebhookInfo: () => ok(this.webhookInfo()),
    answerCallbackQuery: (p) => this.answerCallbackQuery(p),
    editMessageText: (p) => this.editMessage(p, 'text'),
    editMessageReplyMarkup: (p) => this.editMessage(p, 'markup'),
  };
  private readonly methodNames = new Map(Object.keys(this.handlers).map((m) => [m.toLowerCase(), m as KnownMethod]));

  private constructor(options: FakeTelegramOptions) {
    this.token = options.token ?? DEFAULT_TOKEN;
    const idPart = Number(this.token.split(':')[0]);
    this.botUser = {
      id: Number.isSafeInteger(idPart) && idPart > 0 ? idPart : 123456789,
      is_bot: true,
      first_name: options.bot?.firstName ?? 'Test Shop Bot',
      username: options.bot?.username ?? 'test_shop_bot',
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
    this.options = {
      webhookRetryDelayMs: options.webhookRetryDelayMs ?? 100,
      webhookRetryMaxDelayMs: options.webhookRetryMaxDelayMs ?? 2000,
      webhookMaxAttempts: options.webhookMaxAttempts ?? 10,
      webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    };
    this.server = http.createServer((req, res) => {
      void this.handleHttp(req, res);
    });
    this.server.keepAliveTimeout = 1000;
  }

  /** Start a fake on 127.0.0.1 (random port unless `port` is given). */
  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const tg = new FakeTelegram(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      tg.server.once('error', reject);
      tg.server.listen(options.port ?? 0, host, () => {
        tg.server.off('error', reject);
        resolve();
      });
    });
    tg.host = host;
    tg.port = (tg.server.address() as AddressInfo).port;
    return tg;
  }

  /** Pass as `apiRoot` to Bot / Api, e.g. `http://127.0.0.1:41234`. */
  get apiRoot(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  // -------------------------------------------------------------------------------------------
  // Observing the bot
  // -------------------------------------------------------------------------------------------

  /** Every call the bot made except getUpdates (use `calls('getUpdates')` for those), failed ones included. */
  get sent(): RecordedCall[] {
    return this.log.filter((c) => c.method !== 'getUpdates');
  }

  /** Calls of one method (getUpdates included), in the order they were answered. */
  calls<M extends string>(method: M): Array<RecordedCall<ParamsOf<M>>> {
    const wanted = this.methodNames.get(method.toLowerCase()) ?? method;
    return this.log.filter((c) => c.method === wanted) as Array<RecordedCall<ParamsOf<M>>>;
  }

  /** Every successful sendMessage, in order. */
  get sentMessages(): SentMessage[] {
    return [...this.sentMessagesList];
  }

  /** Successful sendMessage calls to one chat. */
  messagesTo(chatId: number | string): SentMessage[] {
    return this.sentMessagesList.filter((m) => String(m.chat_id) === String(chatId));
  }

  /**
   * Resolve with the first successful sendMessage matching `match` that no earlier waitForMessage returned
   * (messages sent before the call count), so consecutive waits walk through the conversation.
   * Rejects after `timeoutMs` with a list of what the bot did send.
   */
  waitForMessage(match: MessagePredicate | MessageMatcher, timeoutMs = 5000): Promise<SentMessage> {
    const predicate = typeof match === 'function' ? match : this.matcher(match);
    const label = typeof match === 'function' ? `predicate ${match.name || '(anonymous)'}` : JSON.stringify(match, (_k, v: unknown) => (v instanceof RegExp ? String(v) : v));
    const existing = this.sentMessagesList.find((m) => !this.consumedMessages.has(m) && predicate(m));
    if (existing) {
      this.consumedMessages.add(existing);
      return Promise.resolve(existing);
    }
    return this.addWaiter(this.messageWaiters, predicate, timeoutMs, () => `waitForMessage(${label}) timed out after ${timeoutMs} ms.\n${this.describeSent()}`);
  }

  /** Like waitForMessage, for any method: the first matching recorded call not returned before. */
  waitForCall<M extends string>(method: M, predicate: (call: RecordedCall<ParamsOf<M>>) => boolean = () => true, timeoutMs = 5000): Promise<RecordedCall<ParamsOf<M>>> {
    const wanted = this.methodNames.get(method.toLowerCase()) ?? method;
    const match = (c: RecordedCall): boolean => c.method === wanted && predicate(c as RecordedCall<ParamsOf<M>>);
    const existing = this.log.find((c) => !this.consumedCalls.has(c) && match(c));
    if (existing) {
      this.consumedCalls.add(existing);
      return Promise.resolve(existing as RecordedCall<ParamsOf<M>>);
    }
    return this.addWaiter(this.callWaiters, match, timeoutMs, () => `waitForCall(${method}) timed out after ${timeoutMs} ms.\n${this.describeSent()}`) as Promise<RecordedCall<ParamsOf<M>>>;
  }

  /**
   * Resolve when the update (default: every update enqueued so far) has been confirmed by the bot: a later
   * getUpdates offset passed it (the library confirms after the handler returned) or the webhook answered 2xx.
   * Rejects if it was dropped (allowed_updates, drop_pending_updates, webhook gave up) or on timeout.
   */
  waitForProcessed(update?: Update | number, timeoutMs = 5000): Promise<void> {
    const ids = update === undefined ? this.queue.map((u) => u.update_id) : [typeof update === 'number' ? update : update.update_id];
    const check = (): boolean => {
      const droppedId = ids.find((id) => this.dropped.has(id));
      if (droppedId !== undefined) throw new Error(`update ${droppedId} was dropped without being processed`);
      return ids.every((id) => this.processed.has(id));
    };
    try {
      if (check()) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = {
        match: () => {
          try {
            return check();
          } catch (err) {
            clearTimeout(waiter.timer);
            this.remove(this.processedWaiters, waiter);
            reject(err as Error);
            return false;
          }
        },
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(this.processedWaiters, waiter);
          const pending = ids.filter((id) => !this.processed.has(id));
          reject(new Error(`waitForProcessed timed out after ${timeoutMs} ms; unconfirmed updates: ${pending.join(', ')}`));
        }, timeoutMs),
      };
      this.processedWaiters.push(waiter);
    });
  }

  /** True while a getUpdates long poll is waiting for updates. */
  get isLongPolling(): boolean {
    return this.pendingPoll !== null;
  }

  /** Updates not yet confirmed by the bot. */
  get pendingUpdates(): readonly Update[] {
    return [...this.queue];
  }

  // -------------------------------------------------------------------------------------------
  // Simulating people
  // -------------------------------------------------------------------------------------------

  /** A handle on a Telegram user (private chat id = user id); options apply when the id is first seen. */
  user(telegramUserId: number, options: UserOptions = {}): FakeUser {
    if (!Number.isSafeInteger(telegramUserId) || telegramUserId <= 0) throw new Error(`invalid Telegram user id ${telegramUserId}`);
    let state = this.chats.get(telegramUserId);
    if (!state) {
      const user: User = { id: telegramUserId, is_bot: false, first_name: options.firstName ?? `User${telegramUserId}`, language_code: options.languageCode ?? 'en' };
      if (options.lastName !== undefined) user.last_name = options.lastName;
      if (options.username !== undefined) user.username = options.username;
      const chat: Chat = { id: telegramUserId, type: 'private', first_name: user.first_name };
      if (user.last_name !== undefined) chat.last_name = user.last_name;
      if (user.username !== undefined) chat.username = user.username;
      state = { user, chat, started: options.hasStartedBot ?? false, blocked: false, lastMessageId: 0, replyKeyboard: null };
      this.chats.set(telegramUserId, state);
    } else if (options.hasStartedBot) {
      state.started = true;
    }
    const chatState = state;
    return new FakeUser({
      state: () => chatState,
      send: (extra) => this.userMessage(chatState, extra),
      press: (message, data) => this.pressButton(chatState, message, data),
      sentTo: () => this.messagesTo(chatState.chat.id),
    });
  }

  /** Add any update (e.g. my_chat_member) to the queue; update_id is assigned. */
  enqueueUpdate(payload: UpdatePayload): Update {
    if (this.closed) throw new Error('FakeTelegram is closed');
    const update = { update_id: ++this.lastUpdateId, ...payload } as Update;
    this.queue.push(update);
    this.scheduleWake();
    return update;
  }

  // -------------------------------------------------------------------------------------------
  // Fault injection
  // -------------------------------------------------------------------------------------------

  /** The next `times` calls of `method` (for `fault.chatId`, if given) get this error instead of being executed. */
  failNext(method: KnownMethod | (string & {}), fault: FaultSpec, times = 1): void {
    const name = this.methodNames.get(method.toLowerCase()) ?? method;
    const list = this.faults.get(name) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(name, list);
  }

  /**
   * The next `times` calls of `method` (for `chatId`, if given) are answered only after `ms` milliseconds,
   * as when Telegram is slow for one chat; they are then served as usual.
   */
  delayNext(method: KnownMethod | (string & {}), ms: number, options: { chatId?: number | string; times?: number } = {}): void {
    const name = this.methodNames.get(method.toLowerCase()) ?? method;
    const list = this.delays.get(name) ?? [];
    for (let i = 0; i < (options.times ?? 1); i++) list.push({ ms, chatId: options.chatId });
    this.delays.set(name, list);
  }

  /**
   * For the next `ms` milliseconds every call (of `methods`, or of any method) gets this error, as while
   * Telegram is overloaded (429 with `retryAfter`) or failing (500, 502); calls after that are served again.
   */
  outage(fault: FaultSpec, ms: number, methods?: Array<KnownMethod | (string & {})>): void {
    const names = methods ? new Set(methods.map((m) => this.methodNames.get(m.toLowerCase()) ?? m)) : null;
    this.outageState = { fault, until: Date.now() + ms, methods: names };
  }

  /** Ends an outage early. */
  endOutage(): void {
    this.outageState = null;
  }

  /** True while an outage is on. */
  get inOutage(): boolean {
    return this.outageState !== null && Date.now() < this.outageState.until;
  }

  /**
   * The user blocks the bot: every call with this chat_id answers 403 'Forbidden: bot was blocked by the user',
   * and the bot gets a my_chat_member update (member -> kicked) as from Telegram.
   */
  blockBotFor(chatId: number): void {
    if (!this.chats.has(chatId)) this.user(chatId);
    const state = this.chats.get(chatId);
    if (!state || state.blocked) return;
    state.blocked = true;
    this.enqueueMembership(state, 'member', 'kicked');
  }

  /** The user unblocks ("Restart" in the client); a my_chat_member update (kicked -> member) follows. */
  unblockBotFor(chatId: number): void {
    const state = this.chats.get(chatId);
    if (!state?.blocked) return;
    state.blocked = false;
    this.enqueueMembership(state, 'kicked', 'member');
  }

  // -------------------------------------------------------------------------------------------
  // Webhook mode
  // -------------------------------------------------------------------------------------------

  /** The webhook set by the bot, or null in polling mode. */
  get webhook(): WebhookState | null {
    return this.webhookState;
  }

  /** Every webhook delivery attempt. */
  get webhookDeliveries(): readonly WebhookDelivery[] {
    return [...this.deliveryLog];
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown
  // -------------------------------------------------------------------------------------------

  /** Answer pending long polls (empty result), stop webhook deliveries, reject waiters, close the server. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      this.webhookGeneration++;
      this.webhookWake.notify();
      for (const req of this.inflightDeliveries) req.destroy();
      this.settlePendingPoll(ok([]));
      const closedError = (what: string): Error => new Error(`FakeTelegram closed while ${what}.\n${this.describeSent()}`);
      for (const w of this.messageWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(closedError('waiting for a message'));
      }
      for (const w of this.callWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(closedError('waiting for a call'));
      }
      for (const w of this.processedWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(closedError('waiting for updates to be processed'));
      }
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Let answers already written (e.g. the emptied long poll) flush, then cut every connection.
      const flushed = [...this.openResponses].map((res) => new Promise<void>((resolve) => res.once('close', () => resolve())));
      await Promise.race([Promise.all(flushed), new Promise((resolve) => setTimeout(resolve, 200).unref())]);
      this.server.closeAllConnections();
      await serverClosed;
    })();
    return this.closing;
  }

  // ===========================================================================================
  // HTTP
  // ===========================================================================================

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.openResponses.add(res);
    res.once('close', () => this.openResponses.delete(res));
    try {
      const url = new URL(req.url ?? '/', 'http://fake-telegram');
      const route = /^\/bot([^/]*)\/([^/]+)\/?$/.exec(url.pathname);
      if (!route) return this.write(res, fail(404, 'Not Found'));
      let body: Buffer;
      try {
        body = await readBody(req);
      } catch {
        return this.write(res, fail(413, 'Request Entity Too Large'));
      }
      if (decodeURIComponent(route[1] ?? '') !== this.token) return this.write(res, fail(401, 'Unauthorized'));
      const rawMethod = decodeURIComponent(route[2] ?? '');
      let parsed: { params: Params; encoding: BodyEncoding };
      try {
        parsed = await parseParams(req, url, body);
      } catch (err) {
        return this.write(res, fail(400, `Bad Request: can't parse request body: ${(err as Error).message}`));
      }
      const result = await this.invoke(rawMethod, parsed.params, parsed.encoding, { res }, 'http');
      if (result !== GONE) this.write(res, result);
    } catch (err) {
      this.write(res, fail(500, `Internal Server Error: fake-telegram: ${(err as Error).message}`));
    }
  }

  /** Run a method (faults, blocked chats, then the handler) and record it. */
  private async invoke(rawMethod: string, params: Params, encoding: BodyEncoding, ctx: RequestContext, via: RecordedCall['via']): Promise<HandlerResult> {
    const method = this.methodNames.get(rawMethod.toLowerCase());
    let result: HandlerResult;
    const delays = this.delays.get(method ?? rawMethod) ?? [];
    const delay = delays.findIndex((d) => d.chatId === undefined || String(d.chatId) === String(params.chat_id));
    if (delay >= 0) await new Promise((resolve) => setTimeout(resolve, delays.splice(delay, 1)[0]!.ms));
    if (this.closed && method === 'getUpdates') {
      result = ok([]);
    } else if (this.takeFault(method ?? rawMethod, params)) {
      result = this.lastFaultResponse;
    } else if (!method) {
      result = fail(404, 'Not Found');
    } else if (this.isBlockedChat(params.chat_id)) {
      result = fail(403, 'Forbidden: bot was blocked by the user');
    } else {
      result = await this.handlers[method](params, ctx);
    }
    if (result === GONE) return GONE;
    this.record({ method: method ?? rawMethod, params, encoding, response: result, ok: result.ok, at: Date.now(), via });
    return result;
  }

  private lastFaultResponse: TelegramResponse = fail(500, 'Internal Server Error');

  private takeFault(method: string, params: Params): boolean {
    if (this.outageState && Date.now() >= this.outageState.until) this.outageState = null;
    const outage = this.outageState;
    let fault: FaultSpec;
    if (outage && (outage.methods === null || outage.methods.has(method))) fault = outage.fault;
    else {
      const list = this.faults.get(method) ?? [];
      const index = list.findIndex((f) => f.chatId === undefined || String(f.chatId) === String(params.chat_id));
      if (index < 0) return false;
      [fault] = list.splice(index, 1) as [FaultSpec];
    }
    const code = fault.errorCode;
    const retryAfter = fault.retryAfter ?? (code === 429 ? 1 : undefined);
    const description = fault.description ?? (code === 429 ? `Too Many Requests: retry after ${retryAfter}` : DEFAULT_DESCRIPTIONS[code] ?? `Error ${code}`);
    const parameters: ResponseParameters = {};
    if (retryAfter !== undefined) parameters.retry_after = retryAfter;
    if (fault.migrateToChatId !== undefined) parameters.migrate_to_chat_id = fault.migrateToChatId;
    this.lastFaultResponse = fail(code, description, Object.keys(parameters).length > 0 ? parameters : undefined);
    return true;
  }

  private write(res: http.ServerResponse, response: TelegramResponse): void {
    if (res.writableEnded || res.destroyed) return;
    const body = JSON.stringify(response);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      server: 'fake-telegram',
    };
    if (this.closed) headers.connection = 'close';
    res.writeHead(response.ok ? 200 : response.error_code, headers);
    res.end(body);
  }

  private record(call: RecordedCall): void {
    this.log.push(call);
    const sent = this.sentByResponse.get(call.response);
    if (sent) this.offerMessage(sent);
    for (const w of [...this.callWaiters]) {
      if (w.match(call)) {
        this.consumedCalls.add(call);
        this.settleWaiter(this.callWaiters, w, call);
        break;
      }
    }
  }

  // ===========================================================================================
  // Updates: queue, getUpdates, webhook
  // ===========================================================================================

  private isAllowed(update: Update): boolean {
    const type = updateTypeOf(update);
    const allowed = this.webhookState ? this.webhookState.allowedUpdates : this.allowedUpdates ? [...this.allowedUpdates] : null;
    if (allowed === null || allowed.length === 0) return !NOT_DEFAULT_UPDATES.has(type);
    return allowed.includes(type);
  }

  /** Drop updates the bot did not ask for (Telegram never stores them). */
  private dropDisallowed(): void {
    const kept: Update[] = [];
    for (const u of this.queue) {
      if (this.isAllowed(u)) kept.push(u);
      else this.dropped.add(u.update_id);
    }
    if (kept.length !== this.queue.length) {
      this.queue = kept;
      this.notifyProcessed();
    }
  }

  private confirm(predicate: (u: Update) => boolean): void {
    const kept: Update[] = [];
    let changed = false;
    for (const u of this.queue) {
      if (predicate(u)) {
        this.processed.add(u.update_id);
        changed = true;
      } else kept.push(u);
    }
    this.queue = kept;
    if (changed) this.notifyProcessed();
  }

  private dropAllPending(): void {
    for (const u of this.queue) this.dropped.add(u.update_id);
    this.queue = [];
    this.notifyProcessed();
  }

  private notifyProcessed(): void {
    for (const w of [...this.processedWaiters]) {
      if (w.match(undefined)) this.settleWaiter(this.processedWaiters, w, undefined);
    }
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    // setImmediate batches updates enqueued in the same tick into one getUpdates answer.
    setImmediate(() => {
      this.wakeScheduled = false;
      this.webhookWake.notify();
      const poll = this.pendingPoll;
      if (!poll) return;
      this.dropDisallowed();
      if (this.queue.length > 0) this.settlePendingPoll(ok(this.queue.slice(0, poll.limit)));
    });
  }

  private settlePendingPoll(result: HandlerResult): void {
    const poll = this.pendingPoll;
    if (!poll) return;
    this.pendingPoll = null;
    clearTimeout(poll.timer);
    poll.settle(result);
  }

  private getUpdates(params: Params, ctx: RequestContext): HandlerResult | Promise<HandlerResult> {
    if (this.webhookState) {
      return fail(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const offset = typeof params.offset === 'number' ? params.offset : 0;
    const limit = typeof params.limit === 'number' ? Math.min(Math.max(params.limit, 1), 100) : 100;
    const timeout = typeof params.timeout === 'number' ? Math.max(params.timeout, 0) : 0;
    if (params.allowed_updates !== undefined) {
      if (!Array.isArray(params.allowed_updates)) return fail(400, "Bad Request: can't parse allowed updates");
      this.allowedUpdates = params.allowed_updates.length === 0 ? null : new Set(params.allowed_updates.map(String));
    }
    if (offset > 0) this.confirm((u) => u.update_id < offset);
    else if (offset < 0) {
      const keep = new Set(this.queue.slice(offset).map((u) => u.update_id));
      this.confirm((u) => !keep.has(u.update_id));
    }
    this.dropDisallowed();
    // Telegram answers an older pending getUpdates with 409 when a new one arrives.
    this.settlePendingPoll(fail(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    if (this.queue.length > 0 || timeout === 0 || this.closed) return ok(this.queue.slice(0, limit));
    return new Promise<HandlerResult>((resolve) => {
      const poll: PendingPoll = {
        limit,
        timer: setTimeout(() => this.settlePendingPoll(ok([])), timeout * 1000),
        settle: resolve,
      };
      poll.timer.unref();
      this.pendingPoll = poll;
      // The bot aborted the request (bot.stop()): forget the poll, its updates stay unconfirmed.
      ctx.res?.once('close', () => {
        if (this.pendingPoll === poll) {
          this.pendingPoll = null;
          clearTimeout(poll.timer);
          resolve(GONE);
        }
      });
    });
  }

  private setWebhook(params: Params): HandlerResult {
    const url = typeof params.url === 'string' ? params.url : '';
    if (url === '') return this.deleteWebhook(params);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail(400, 'Bad Request: bad webhook: Failed to resolve host: Name or service not known');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return fail(400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
    let secretToken: string | null = null;
    if (params.secret_token !== undefined && params.secret_token !== '') {
      if (typeof params.secret_token !== 'string' || !SECRET_TOKEN_RE.test(params.secret_token)) {
        return fail(400, 'Bad Request: secret token contains unallowed characters');
      }
      secretToken = params.secret_token;
    }
    let allowedUpdates: string[] | null = this.webhookState?.allowedUpdates ? [...this.webhookState.allowedUpdates] : null;
    if (params.allowed_updates !== undefined) {
      if (!Array.isArray(params.allowed_updates)) return fail(400, "Bad Request: can't parse allowed updates");
      allowedUpdates = params.allowed_updates.map(String);
    }
    const maxConnections = typeof params.max_connections === 'number' ? params.max_connections : 40;
    const next: WebhookState = { url, secretToken, allowedUpdates, maxConnections };
    const unchanged = this.webhookState !== null && sameJson(this.webhookState, next);
    if (params.drop_pending_updates === true) this.dropAllPending();
    this.settlePendingPoll(fail(409, 'Conflict: terminated by setWebhook request'));
    this.webhookState = next;
    this.webhookLastError = null;
    if (!unchanged) {
      this.webhookWake.notify(); // a previous loop exits now
      const generation = ++this.webhookGeneration;
      void this.webhookLoop(generation);
    }
    return ok(true, unchanged ? 'Webhook is already set' : 'Webhook was set');
  }

  private deleteWebhook(params: Params): HandlerResult {
    const had = this.webhookState !== null;
    this.webhookState = null;
    this.webhookGeneration++;
    this.webhookWake.notify();
    if (params.drop_pending_updates === true) this.dropAllPending();
    return ok(true, had ? 'Webhook was deleted' : 'Webhook is already deleted');
  }

  private webhookInfo(): WebhookInfo {
    const info: WebhookInfo = {
      url: this.webhookState?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.queue.length,
    };
    if (this.webhookState) {
      info.ip_address = '127.0.0.1';
      info.max_connections = this.webhookState.maxConnections;
      if (this.webhookState.allowedUpdates) info.allowed_updates = [...this.webhookState.allowedUpdates];
    }
    if (this.webhookLastError) {
      info.last_error_date = this.webhookLastError.date;
      info.last_error_message = this.webhookLastError.message;
    }
    return info;
  }

  /** Deliver queued updates one by one, in order, while this webhook generation is current. */
  private async webhookLoop(generation: number): Promise<void> {
    let attempts = 0;
    const current = (): boolean => !this.closed && this.webhookGeneration === generation && this.webhookState !== null;
    while (current()) {
      this.dropDisallowed();
      const update = this.queue[0];
      const hook = this.webhookState;
      if (!update || !hook) {
        await this.webhookWake.wait(1000);
        continue;
      }
      const outcome = await this.deliver(hook, update);
      if (outcome.ok) {
        attempts = 0;
        this.confirm((u) => u.update_id === update.update_id);
        if (outcome.body) await this.runWebhookReply(outcome.body);
        continue;
      }
      this.webhookLastError = { date: nowSeconds(), message: outcome.error };
      attempts++;
      if (attempts >= this.options.webhookMaxAttempts) {
        attempts = 0;
        this.dropped.add(update.update_id);
        this.queue = this.queue.filter((u) => u.update_id !== update.update_id);
        this.notifyProcessed();
        continue;
      }
      const delay = Math.min(this.options.webhookRetryDelayMs * 2 ** (attempts - 1), this.options.webhookRetryMaxDelayMs);
      await this.webhookWake.wait(delay); // setWebhook/deleteWebhook/close/new updates wake it early
    }
  }

  private deliver(hook: WebhookState, update: Update): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
    const payload = JSON.stringify(update);
    const url = new URL(hook.url);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      connection: 'close',
    };
    if (hook.secretToken !== null) headers['x-telegram-bot-api-secret-token'] = hook.secretToken;
    return new Promise((resolve) => {
      const logDelivery = (status: number | undefined, error: string | undefined, okay: boolean): void => {
        const entry: WebhookDelivery = { updateId: update.update_id, url: hook.url, secretToken: hook.secretToken, ok: okay, at: Date.now(), ...(status !== undefined ? { status } : {}), ...(error !== undefined ? { error } : {}) };
        this.deliveryLog.push(entry);
      };
      const req = http.request(url, { method: 'POST', headers, agent: false, timeout: this.options.webhookTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => finish({ ok: false, error: `Connection error: ${err.message}` }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            logDelivery(status, undefined, true);
            finish({ ok: true, body: Buffer.concat(chunks).toString('utf8') });
          } else {
            const error = `Wrong response from the webhook: ${status} ${res.statusMessage ?? ''}`.trim();
            logDelivery(status, error, false);
            finish({ ok: false, error });
          }
        });
      });
      let settled = false;
      const finish = (outcome: { ok: true; body: string } | { ok: false; error: string }): void => {
        if (settled) return;
        settled = true;
        this.inflightDeliveries.delete(req);
        resolve(outcome);
      };
      req.on('timeout', () => req.destroy(new Error('Read timeout expired')));
      req.on('error', (err) => {
        if (!settled) logDelivery(undefined, err.message, false);
        finish({ ok: false, error: `Connection error: ${err.message}` });
      });
      this.inflightDeliveries.add(req);
      req.end(payload);
    });
  }

  /** Telegram runs a method call returned in the webhook response body ({ method, ...params }). */
  private async runWebhookReply(body: string): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return;
    }
    if (!isRecord(parsed) || typeof parsed.method !== 'string') return;
    const { method, ...rest } = parsed;
    const params: Params = {};
    for (const [key, value] of Object.entries(rest)) params[key] = typeof value === 'string' ? coerce(key, value) : value;
    await this.invoke(method as string, params, 'json', { res: null }, 'webhook-response');
  }

  // ===========================================================================================
  // Chats and messages
  // ===========================================================================================

  /** `from` of the bot's messages: Telegram sends only these fields there (the rest is getMe-only). */
  private botAsSender(): User {
    const from: User = { id: this.botUser.id, is_bot: true, first_name: this.botUser.first_name };
    if (this.botUser.username !== undefined) from.username = this.botUser.username;
    return from;
  }

  private key(chatId: number, messageId: number): string {
    return `${chatId}:${messageId}`;
  }

  private isBlockedChat(chatId: unknown): boolean {
    return typeof chatId === 'number' && this.chats.get(chatId)?.blocked === true;
  }

  /** Resolve a chat_id param to a known chat, or the Telegram error for it. */
  private resolveChat(chatId: unknown): ChatState | TelegramResponse<never> {
    if (chatId === undefined || chatId === '') return fail(400, 'Bad Request: chat_id is empty');
    let state: ChatState | undefined;
    if (typeof chatId === 'number') state = this.chats.get(chatId);
    else if (typeof chatId === 'string' && chatId.startsWith('@')) {
      state = [...this.chats.values()].find((c) => c.user.username !== undefined && `@${c.user.username}`.toLowerCase() === chatId.toLowerCase());
    }
    if (!state) return fail(400, 'Bad Request: chat not found');
    return state;
  }

  private validateMarkup(markup: unknown, inlineOnly: boolean): ReplyMarkup | undefined | TelegramResponse<never> {
    if (markup === undefined) return undefined;
    const bad = fail(400, inlineOnly ? "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object" : "Bad Request: can't parse reply keyboard markup JSON object");
    if (!isRecord(markup)) return bad;
    if (Array.isArray(markup.inline_keyboard)) {
      for (const row of markup.inline_keyboard) {
        if (!Array.isArray(row)) return fail(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
        for (const button of row) {
          if (!isRecord(button) || typeof button.text !== 'string') return fail(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
          const actions = ['url', 'callback_data', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat', 'switch_inline_query_chosen_chat', 'copy_text', 'callback_game', 'pay'];
          if (!actions.some((a) => button[a] !== undefined)) return fail(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
          if (typeof button.callback_data === 'string' && Buffer.byteLength(button.callback_data) > 64) return fail(400, 'Bad Request: BUTTON_DATA_INVALID');
        }
      }
      return markup as InlineKeyboardMarkup;
    }
    if (inlineOnly) return bad;
    if (Array.isArray(markup.keyboard)) {
      for (const row of markup.keyboard) {
        if (!Array.isArray(row)) return fail(400, 'Bad Request: field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays');
        for (const button of row) {
          if (!(typeof button === 'string' || (isRecord(button) && typeof button.text === 'string'))) return fail(400, "Bad Request: can't parse keyboard button: KeyboardButton must be a String or an Object");
        }
      }
      return markup as ReplyKeyboardMarkup;
    }
    if (markup.remove_keyboard === true || markup.force_reply === true) return markup as ReplyMarkup;
    return bad;
  }

  private sendMessage(params: Params): HandlerResult {
    const chat = this.resolveChat(params.chat_id);
    if ('ok' in chat) return chat;
    if (chat.blocked) return fail(403, 'Forbidden: bot was blocked by the user');
    if (!chat.started) return fail(403, "Forbidden: bot can't initiate conversation with a user");
    const text = params.text;
    if (typeof text !== 'string' || text.trim() === '') return fail(400, 'Bad Request: message text is empty');
    if (text.length > 4096) return fail(400, 'Bad Request: message is too long');
    if (params.parse_mode !== undefined && !['Markdown', 'MarkdownV2', 'HTML'].includes(String(params.parse_mode))) {
      return fail(400, `Bad Request: unsupported parse_mode`);
    }
    const markup = this.validateMarkup(params.reply_markup, false);
    if (markup && 'ok' in markup) return markup;
    const message: Message = { message_id: ++chat.lastMessageId, from: this.botAsSender(), chat: { ...chat.chat }, date: nowSeconds(), text };
    if (Array.isArray(params.entities)) message.entities = params.entities as MessageEntity[];
    const replyTo = isRecord(params.reply_parameters) ? params.reply_parameters.message_id : params.reply_to_message_id;
    if (typeof replyTo === 'number') {
      const original = this.messages.get(this.key(chat.chat.id, replyTo));
      if (original) message.reply_to_message = { ...original };
      else if (!(isRecord(params.reply_parameters) && params.reply_parameters.allow_sending_without_reply === true)) {
        chat.lastMessageId--;
        return fail(400, 'Bad Request: message to be replied not found');
      }
    }
    if (markup && 'inline_keyboard' in markup) message.reply_markup = markup;
    if (markup && 'keyboard' in markup) chat.replyKeyboard = markup;
    if (markup && 'remove_keyboard' in markup) chat.replyKeyboard = null;
    this.messages.set(this.key(chat.chat.id, message.message_id), message);
    const sent = { ...(params as SendMessageParams), message_id: message.message_id, message } as SentMessage;
    this.sentMessagesList.push(sent);
    const response = ok(structuredClone(message));
    this.sentByResponse.set(response, sent); // offered to waitForMessage once recorded
    return response;
  }

  private offerMessage(sent: SentMessage): void {
    for (const w of [...this.messageWaiters]) {
      if (this.consumedMessages.has(sent)) return;
      if (w.match(sent)) {
        this.consumedMessages.add(sent);
        this.settleWaiter(this.messageWaiters, w, sent);
        return;
      }
    }
  }

  private answerCallbackQuery(params: Params): HandlerResult {
    const id = params.callback_query_id;
    if (typeof id !== 'string' && typeof id !== 'number') return fail(400, 'Bad Request: parameter "callback_query_id" is required');
    const entry = this.callbackQueries.get(String(id));
    if (!entry || entry.answered) return fail(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
    if (typeof params.text === 'string' && params.text.length > 200) return fail(400, 'Bad Request: MESSAGE_TOO_LONG');
    entry.answered = true;
    return ok(true);
  }

  private editMessage(params: Params, what: 'text' | 'markup'): HandlerResult {
    const markup = this.validateMarkup(params.reply_markup, true);
    if (markup && 'ok' in markup) return markup;
    if (params.inline_message_id !== undefined) return ok(true);
    const chat = this.resolveChat(params.chat_id);
    if ('ok' in chat) return chat;
    if (typeof params.message_id !== 'number') return fail(400, 'Bad Request: message identifier is not specified');
    const key = this.key(chat.chat.id, params.message_id);
    const current = this.messages.get(key);
    if (!current) return fail(400, 'Bad Request: message to edit not found');
    if (current.from?.id !== this.botUser.id) return fail(400, "Bad Request: message can't be edited");
    const next: Message = { ...current };
    if (what === 'text') {
      if (typeof params.text !== 'string' || params.text.trim() === '') return fail(400, 'Bad Request: message text is empty');
      if (params.text.length > 4096) return fail(400, 'Bad Request: MESSAGE_TOO_LONG');
      next.text = params.text;
      if (Array.isArray(params.entities)) next.entities = params.entities as MessageEntity[];
      else delete next.entities;
    }
    // As in Telegram, an edit without reply_markup removes the inline keyboard.
    if (markup) next.reply_markup = markup as InlineKeyboardMarkup;
    else delete next.reply_markup;
    if (next.text === current.text && sameJson(next.entities, current.entities) && sameJson(next.reply_markup, current.reply_markup)) {
      return fail(400, NOT_MODIFIED);
    }
    next.edit_date = nowSeconds();
    this.messages.set(key, next);
    return ok(structuredClone(next));
  }

  private userMessage(chat: ChatState, extra: Partial<Message>): Update {
    if (this.closed) throw new Error('FakeTelegram is closed');
    if (chat.blocked) throw new Error(`user ${chat.user.id} has blocked the bot; call tg.unblockBotFor(${chat.user.id}) first`);
    chat.started = true;
    const keyboard = chat.replyKeyboard;
    const usedButton = keyboard?.keyboard.flat().some((b) => (extra.contact && b.request_contact) || (extra.text !== undefined && b.text === extra.text));
    if (keyboard?.one_time_keyboard && usedButton) chat.replyKeyboard = null;
    const message: Message = { message_id: ++chat.lastMessageId, from: { ...chat.user }, chat: { ...chat.chat }, date: nowSeconds(), ...extra };
    this.messages.set(this.key(chat.chat.id, message.message_id), message);
    return this.enqueueUpdate({ message: structuredClone(message) });
  }

  private pressButton(chat: ChatState, ref: MessageRef, data: string): Update {
    if (this.closed) throw new Error('FakeTelegram is closed');
    if (chat.blocked) throw new Error(`user ${chat.user.id} has blocked the bot; call tg.unblockBotFor(${chat.user.id}) first`);
    const chatId = 'chat' in ref ? ref.chat.id : Number(ref.chat_id);
    if (chatId !== chat.chat.id) throw new Error(`user ${chat.user.id} cannot press a button of a message in chat ${chatId}`);
    const message = this.messages.get(this.key(chatId, ref.message_id));
    if (!message || message.from?.id !== this.botUser.id) throw new Error(`no bot message ${ref.message_id} in chat ${chatId}`);
    const buttons = message.reply_markup?.inline_keyboard.flat() ?? [];
    if (!buttons.some((b) => b.callback_data === data)) {
      const shown = buttons.map((b) => `${b.text}=>${b.callback_data ?? b.url ?? '?'}`).join(', ') || 'none';
      throw new Error(`message ${ref.message_id} in chat ${chatId} has no inline button with callback_data "${data}" (buttons: ${shown})`);
    }
    const id = (BigInt(chat.user.id) * 4294967296n + BigInt(++this.callbackCounter)).toString();
    const query: CallbackQuery = {
      id,
      from: { ...chat.user },
      message: structuredClone(message),
      chat_instance: (BigInt(chat.chat.id) * 7919n + 4561234567890123n).toString(),
      data,
    };
    this.callbackQueries.set(id, { query, answered: false });
    return this.enqueueUpdate({ callback_query: structuredClone(query) });
  }

  private enqueueMembership(state: ChatState, from: 'member' | 'kicked', to: 'member' | 'kicked'): void {
    const date = nowSeconds();
    const member = (status: 'member' | 'kicked'): { status: string; user: User; until_date?: number } =>
      status === 'kicked' ? { status, user: this.botAsSender(), until_date: 0 } : { status, user: this.botAsSender() };
    this.enqueueUpdate({
      my_chat_member: { chat: { ...state.chat }, from: { ...state.user }, date, old_chat_member: member(from), new_chat_member: member(to) },
    } as UpdatePayload);
  }

  // ===========================================================================================
  // Waiters and diagnostics
  // ===========================================================================================

  private matcher(m: MessageMatcher): MessagePredicate {
    return (msg) =>
      (m.chatId === undefined || String(msg.chat_id) === String(m.chatId)) &&
      (m.textIncludes === undefined || msg.text.includes(m.textIncludes)) &&
      (m.textMatches === undefined || m.textMatches.test(msg.text));
  }

  private addWaiter<T>(list: Array<Waiter<T>>, match: (value: T) => boolean, timeoutMs: number, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(list, waiter);
          reject(new Error(describe()));
        }, timeoutMs),
      };
      list.push(waiter);
    });
  }

  private settleWaiter<T>(list: Array<Waiter<T>>, waiter: Waiter<T>, value: T): void {
    clearTimeout(waiter.timer);
    this.remove(list, waiter);
    waiter.resolve(value);
  }

  private remove<T>(list: T[], item: T): void {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  }

  /** Human-readable list of what the bot did, for timeout errors. */
  describeSent(): string {
    const calls = this.sent;
    if (calls.length === 0) return 'The bot made no calls (besides getUpdates).';
    const lines = calls.map((c, i) => {
      const p = c.params;
      const outcome = c.response.ok ? 'ok' : `FAILED ${c.response.error_code} ${c.response.description}`;
      if (c.method === 'sendMessage') {
        const sent = this.sentByResponse.get(c.response);
        const consumed = sent !== undefined && this.consumedMessages.has(sent);
        return `  ${i + 1}. sendMessage chat_id=${String(p.chat_id)} text=${JSON.stringify(clip(String(p.text ?? '')))}${describeMarkup(p.reply_markup)} -> ${outcome}${consumed ? ' (already returned by waitForMessage)' : ''}`;
      }
      return `  ${i + 1}. ${c.method} ${clip(JSON.stringify(p), 160)} -> ${outcome}`;
    });
    return `Calls so far:\n${lines.join('\n')}`;
  }
}
