import type { GraphQLFormattedError } from 'graphql';
import { appErrorOf, formatError } from '../../kernel/src/http';
import { ErrorCode } from '../../kernel/src/errors';
import type { Logger } from '../../kernel/src/logger';
import type { Metrics } from '../../kernel/src/metrics';
import { tokenLimitRefusal, type OperationLimits } from './operation-limits';

/** Apollo's APQ refusals come without a code of their own; they are the client's mistake, not an internal error. */
const PERSISTED_QUERY_REFUSALS = new Set(['provided sha does not match query', 'Unsupported persisted query version']);

/** The gateway's own refusals of what a client asked for too much of (a subgraph's RATE_LIMITED, an OTP cooldown say, is not one). */
const LIMIT_CODES = new Set<string>([
  ErrorCode.QUERY_TOO_LARGE,
  ErrorCode.QUERY_TOO_DEEP,
  ErrorCode.TOO_MANY_FIELD_REPEATS,
  ErrorCode.TOO_MANY_ALIASES,
  ErrorCode.TOO_MANY_ROOT_FIELDS,
  ErrorCode.TOO_MANY_DIRECTIVES,
  ErrorCode.QUERY_TOO_COSTLY,
  ErrorCode.TOO_MANY_SUBSCRIPTIONS,
  ErrorCode.RATE_LIMITED,
  ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
]);

/** `shop_gateway_refusals_total{limit}`: every transport's refusals pass through formatError, so they are counted there. */
export const refusalCounter = (metrics: Metrics) =>
  metrics.counter('shop_gateway_refusals_total', "Operations and connections the gateway refused for a limit, by the refusal's code", ['limit']);

/** The kernel's error masking, plus the token limit (graphql-js reports it as a plain syntax error) and no subgraph internals. */
export function gatewayFormatError(logger: Logger, limits: OperationLimits, metrics?: Metrics) {
  const format = formatError(logger);
  const refusals = metrics && refusalCounter(metrics);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // Apollo gives a code-less error INTERNAL_SERVER_ERROR.
    if (PERSISTED_QUERY_REFUSALS.has(formatted.message) && [undefined, 'INTERNAL_SERVER_ERROR'].includes(formatted.extensions?.code as string | undefined)) {
      return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
    }
    const tooLarge = formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' ? tokenLimitRefusal(formatted.message, limits) : undefined;
    const own = refusals && (tooLarge ?? appErrorOf(error));
    if (own && LIMIT_CODES.has(own.code)) refusals!.inc({ limit: own.code });
    const result = format(formatted, tooLarge ?? error);
    // A subgraph's raw HTTP answer (its internal URL, its body) is for our logs, not for clients.
    if (result.extensions && 'response' in result.extensions) {
      const { response: _response, ...extensions } = result.extensions;
      return { ...result, extensions };
    }
    return result;
  };
}
