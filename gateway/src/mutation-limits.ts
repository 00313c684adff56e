import { Kind, OperationTypeNode, type OperationDefinitionNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../../kernel/src/redis';
import { rateLimited } from '../../kernel/src/errors';
import { addressBucket } from '../../kernel/src/client-address';
import type { GatewayContext } from './identity';

export interface MutationRates {
  perUserPerMinute: number;
  perAddressPerMinute: number;
}

/** Each mutation root field is one point: a hundred stock adjustments cost a hundred, however they are batched. */
const mutationFields = (operation: OperationDefinitionNode) =>
  operation.selectionSet.selections.filter((s) => s.kind !== Kind.FIELD || s.name.value !== '__typename').length;

/**
 * Rate limits on mutations at the front door, in Redis so every gateway process shares them: per
 * logged-in user and per client address (IPv4, or IPv6 /64). If Redis is down each process limits
 * on its own in memory rather than letting everything through.
 */
export class MutationLimiter {
  private readonly perUser: RateLimiterRedis;
  private readonly perAddress: RateLimiterRedis;

  constructor(redis: Redis, keyPrefix: string, rates: MutationRates) {
    const limiter = (name: string, points: number) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${keyPrefix}gateway:mutations:${name}`,
        points,
        duration: 60,
        insuranceLimiter: new RateLimiterMemory({ points, duration: 60 }),
      });
    this.perUser = limiter('user', rates.perUserPerMinute);
    this.perAddress = limiter('address', rates.perAddressPerMinute);
  }

  async consume(context: GatewayContext, points: number): Promise<void> {
    const { identity } = context;
    try {
      if (identity.kind === 'user') await this.perUser.consume(identity.userId, points);
      if (identity.kind !== 'service') await this.perAddress.consume(addressBucket(identity.ip), points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      const error = rateLimited(`Too many changes in a short time; try again in ${retryAfter} s.`, retryAfter);
      error.extensions.http = { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) };
      throw error;
    }
  }

  plugin(): ApolloServerPlugin<GatewayContext> {
    return {
      requestDidStart: async () => ({
        didResolveOperation: async ({ operation, contextValue }) => {
          if (contextValue.internal || operation?.operation !== OperationTypeNode.MUTATION) return;
          await this.consume(contextValue, mutationFields(operation));
        },
      }),
    };
  }
}
