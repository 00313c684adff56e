import type { PrismaClient, User } from '../../../kernel/src/prisma';
import { AppError, ErrorCode } from '../../../kernel/src/errors';
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

/** The login flow: a code to the bound Telegram chat, exchanged for a session. */
export class LoginService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly otp: OtpService,
    private readonly delivery: OtpDelivery,
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly options: LoginOptions,
  ) {}

  async requestOtp(rawPhone: string, clientIp: string | undefined): Promise<OtpChallenge> {
    const phone = normalizePhone(rawPhone, this.options.defaultRegion);
    await this.otp.checkClientLimit(clientIp);
    const user = await this.users.findByPhone(phone);
    if (this.options.requireTelegram && !user?.telegramChatId) {
      const bot = this.options.botUsername ? `@${this.options.botUsername.replace(/^@/, '')}` : 'our Telegram bot';
      throw new AppError(
        ErrorCode.TELEGRAM_NOT_LINKED,
        `This phone is not linked to Telegram yet: open ${bot}, press Start and share your phone number, then ask for a code again.`,
        { field: 'phone' },
      );
    }
    return this.otp.issue(phone, (code, ttl) => this.delivery.send(user?.telegramChatId ?? 0n, phone, code, ttl));
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
