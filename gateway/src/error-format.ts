import type { GraphQLFormattedError } from 'graphql';
import { formatError } from '../../kernel/src/http';
import type { Logger } from '../../kernel/src/logger';
import { tokenLimitRefusal, type OperationLimits } from './operation-limits';

/** Apollo's APQ refusals come without a code of their own; they are the client's mistake, not an internal error. */
const PERSISTED_QUERY_REFUSALS = new Set(['provided sha does not match query', 'Unsupported persisted query version']);

/** The kernel's error masking, plus the token limit (graphql-js reports it as a plain syntax error) and no subgraph internals. */
export function gatewayFormatError(logger: Logger, limits: OperationLimits) {
  const format = formatError(logger);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // Apollo gives a code-less error INTERNAL_SERVER_ERROR.
    if (PERSISTED_QUERY_REFUSALS.has(formatted.message) && [undefined, 'INTERNAL_SERVER_ERROR'].includes(formatted.extensions?.code as string | undefined)) {
      return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
    }
    const tooLarge = formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' ? tokenLimitRefusal(formatted.message, limits) : undefined;
    const result = format(formatted, tooLarge ?? error);
    // A subgraph's raw HTTP answer (its internal URL, its body) is for our logs, not for clients.
    if (result.extensions && 'response' in result.extensions) {
      const { response: _response, ...extensions } = result.extensions;
      return { ...result, extensions };
    }
    return result;
  };
}
