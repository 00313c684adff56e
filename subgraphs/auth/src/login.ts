import type { PrismaClient, User } from '../../../kernel/src/prisma';
import type { Logger } from '../../../kernel/src/logger';
import type { OtpDelivery } from './otp-delivery';
import type { OtpChallenge, OtpService } from './otp';
import { normalizePhone } from './phone';
import type { AuthPayload, SessionService } from './sessions';
import type { UserService } from './users';

export interface LoginOptions {
  defaultRegion?: string;
  /** False only in development without a bot: codes go to the log, so no Telegram binding is needed. */
  requireTelegram: boolean;
  botUsername?: string;
}

/** What requestOtp answers: the same for every phone, linked, unlinked or unknown. */
export interface OtpRequestAnswer extends OtpChallenge {
  message: string;
}

/** The login flow: a code to the bound Telegram chat, exchanged for a session. */
export class LoginService {
  /** Codes on their way to Telegram, awaited at shutdown. */
  private readonly deliveries = new Set<Promise<void>>();
  private readonly answer: string;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly otp: OtpService,
    private readonly delivery: OtpDelivery,
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly options: LoginOptions,
    private readonly logger: Logger,
  ) {
    const bot = options.botUsername ? `@${options.botUsername.replace(/^@/, '')}` : 'our Telegram bot';
    this.answer = options.requireTelegram
      ? `If this number is linked to ${bot}, a code is on its way there. If none arrives, open ${bot}, press Start and share your phone number, then ask for a code again.`
      : 'Development without a Telegram bot: the code is written to the auth service\'s log.';
  }

  /** Answers alike for every phone (limits, data, timing), so a stranger learns nothing about it. */
  async requestOtp(rawPhone: string, clientIp: string | undefined): Promise<OtpRequestAnswer> {
    const phone = normalizePhone(rawPhone, this.options.defaultRegion);
    await this.otp.checkClientLimit(clientIp);
    const user = await this.users.findByPhone(phone);
    const chatId = user?.telegramChatId ?? null;
    const { challenge, code } = await this.otp.issue(phone, !this.options.requireTelegram || chatId !== null);
    // Not awaited: waiting for Telegram would time a linked phone apart; the price is that a failed send is only a missing message and a log line.
    if (code !== undefined) this.deliverInBackground(chatId ?? 0n, phone, code);
    return { ...challenge, message: this.answer };
  }

  /** Waits for the codes still on their way (shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.deliveries]);
  }

  private deliverInBackground(chatId: bigint, phone: string, code: string): void {
    const delivery = this.delivery.send(chatId, phone, code, this.otp.ttlSeconds).then(
      () => undefined,
      (error: unknown) => this.logger.warn({ err: error instanceof Error ? error.message : error }, 'a login code could not be delivered; the person can ask again after the cooldown'),
    );
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }

  async verifyOtp(rawPhone: string, code: string): Promise<AuthPayload> {
    const phone = normalizePhone(rawPhone, this.options.defaultRegion);
    await this.otp.verify(phone, code.trim());
    const user = (await this.users.findByPhone(phone)) ?? (await this.createUnlinkedUser(phone));
    return this.sessions.start(await this.users.promoteIfConfiguredAdmin(user));
  }

  /** Only reachable without Telegram (development): the code in the log proved the phone. */
  private createUnlinkedUser(phone: string): Promise<User> {
    return this.prisma.user.upsert({ where: { phone }, create: { phone }, update: {} });
  }
}
