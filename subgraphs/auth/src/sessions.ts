import { randomUUID } from 'node:crypto';
import type { PrismaClient, User } from '../../../kernel/src/prisma';
import { JwtService, TokenError } from '../../../kernel/src/jwt';
import { AppError, ErrorCode } from '../../../kernel/src/errors';
import type { Logger } from '../../../kernel/src/logger';

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: User;
}

const sessionEnded = (message: string) => new AppError(ErrorCode.UNAUTHENTICATED, `${message} Log in again.`);

/**
 * Sessions as refresh-token families: a login starts a family, each refresh rotates to a new
 * member, and presenting a member that was already rotated (a stolen copy) revokes the family.
 */
export class SessionService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly jwt: JwtService,
    private readonly logger: Logger,
  ) {}

  async start(user: User): Promise<AuthPayload> {
    return this.issue(user, randomUUID());
  }

  async refresh(refreshToken: string): Promise<AuthPayload> {
    const claims = await this.verifyRefresh(refreshToken);
    const now = new Date();
    // Conditional update: of two concurrent refreshes with one token, exactly one rotates it.
    const rotated = await this.prisma.refreshToken.updateMany({
      where: { id: claims.jti, rotatedAt: null, revokedAt: null, expiresAt: { gt: now } },
      data: { rotatedAt: now },
    });
    if (rotated.count === 0) {
      const row = await this.prisma.refreshToken.findUnique({ where: { id: claims.jti } });
      if (row?.rotatedAt && !row.revokedAt) {
        await this.revokeFamily(claims.fam);
        this.logger.warn({ userId: claims.sub, familyId: claims.fam }, 'refresh token reused: session revoked');
        throw sessionEnded('This refresh token was already used, so the session was ended to protect your account.');
      }
      throw sessionEnded('This session has ended.');
    }
    // A family is revoked when any member is: that also covers a member issued by a refresh
    // that raced with the replay which revoked its siblings.
    if (await this.familyRevoked(claims.fam)) throw sessionEnded('This session has ended.');
    const user = await this.prisma.user.findUnique({ where: { id: claims.sub } });
    if (!user) throw sessionEnded('This account no longer exists.');
    return this.issue(user, claims.fam);
  }

  /** Ends the session the token belongs to. Idempotent: an ended or expired session is already logged out. */
  async logout(refreshToken: string): Promise<boolean> {
    try {
      const claims = await this.jwt.verify(refreshToken, ['refresh']);
      await this.revokeFamily(claims.fam);
    } catch (error) {
      if (!(error instanceof TokenError && error.reason === 'expired')) throw sessionEnded(error instanceof TokenError ? error.message : 'The refresh token is invalid.');
    }
    return true;
  }

  private async issue(user: User, familyId: string): Promise<AuthPayload> {
    const jti = randomUUID();
    await this.prisma.refreshToken.create({
      data: { id: jti, familyId, userId: user.id, expiresAt: new Date(Date.now() + this.jwt.refreshTtlSeconds * 1000) },
    });
    const [accessToken, refreshToken] = await Promise.all([
      this.jwt.signAccess({ id: user.id, role: user.role }),
      this.jwt.signRefresh({ userId: user.id, familyId, jti }),
    ]);
    return { accessToken, refreshToken, expiresIn: this.jwt.accessTtlSeconds, user };
  }

  private async familyRevoked(familyId: string): Promise<boolean> {
    return (await this.prisma.refreshToken.count({ where: { familyId, revokedAt: { not: null } } })) > 0;
  }

  private revokeFamily(familyId: string) {
    return this.prisma.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
  }

  private async verifyRefresh(token: string) {
    try {
      return await this.jwt.verify(token, ['refresh']);
    } catch (error) {
      throw sessionEnded(error instanceof TokenError ? error.message : 'The refresh token is invalid.');
    }
  }
}
