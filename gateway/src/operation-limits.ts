import {
  GraphQLError,
  Kind,
  parse,
  getNullableType,
  isListType,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { GraphQLArmorCallbackConfiguration } from '@escape.tech/graphql-armor-types';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import { AppError, ErrorCode } from '../../kernel/src/errors';

/** What one operation may ask for, checked before any subgraph is called. */
export interface OperationLimits {
  /** Lexical tokens in the document: checked while parsing, before validation can run at all. */
  maxTokens: number;
  /** Times one response name may appear in one selection set, fragments included (validation compares them pairwise). */
  maxFieldRepeats: number;
  maxDepth: number;
  maxAliases: number;
  maxRootFields: number;
  maxDirectives: number;
  /** The estimated cost (see `fieldCost`); list fields multiply what they select. */
  maxCost: number;
  /** How many items a list without `first` is assumed to hold. */
  defaultListSize: number;
}

/** HTTP status of a refused operation; the GraphQL-over-HTTP status plugin turns it into 200 for application/json clients. */
const REFUSED = { http: { status: 400 } };

const refusal = (code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) =>
  new AppError(code, message, { ...extensions, ...REFUSED });

/** graphql-js's own parser aborts past `maxTokens`, so the quadratic validation rules never see a huge document. */
export const parseOptions = (limits: OperationLimits): ParseOptions => ({ maxTokens: limits.maxTokens, noLocation: false });

/**
 * graphql-js words the token abort as a syntax error ("Document contains more that N tokens" in 16.x,
 * "than" elsewhere); this recognises it so it can carry its own code.
 */
export function tokenLimitRefusal(message: string, limits: OperationLimits): AppError | undefined {
  if (!/Document contains more tha[nt] \d+ tokens/.test(message)) return undefined;
  return refusal(ErrorCode.QUERY_TOO_LARGE, `The document has more than ${limits.maxTokens} tokens; send a smaller query.`, { limit: limits.maxTokens });
}

/** Field nodes the repeat check may visit with fragments expanded; a document that expands further is refused. */
const MAX_EXPANDED_FIELDS = 20_000;

/**
 * The checks that must come before graphql-js validation, whose overlapping-fields rule compares
 * every pair of fields sharing a response name in a selection set: tokens (while parsing), then how
 * often one response name repeats in a selection set once fragments and same-named fields are
 * merged, as the rule sees it. Returns the parsed document.
 */
export function screenDocument(source: string, limits: OperationLimits): DocumentNode {
  let document: DocumentNode;
  try {
    document = parse(source, parseOptions(limits));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw tokenLimitRefusal(message, limits) ?? new GraphQLError(message, { extensions: { code: 'GRAPHQL_PARSE_FAILED', ...REFUSED } });
  }
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  let visited = 0;
  const collect = (sets: readonly SelectionSetNode[]): Map<string, FieldNode[]> => {
    const byName = new Map<string, FieldNode[]>();
    const spread = new Set<string>();
    const add = (set: SelectionSetNode) => {
      for (const selection of set.selections) {
        if (++visited > MAX_EXPANDED_FIELDS) {
          throw refusal(ErrorCode.QUERY_TOO_LARGE, `The document expands to more than ${MAX_EXPANDED_FIELDS} fields once its fragments are spread; send a smaller query.`);
        }
        if (selection.kind === Kind.FIELD) {
          const name = selection.alias?.value ?? selection.name.value;
          const same = byName.get(name);
          if (same) same.push(selection);
          else byName.set(name, [selection]);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          add(selection.selectionSet);
        } else if (!spread.has(selection.name.value)) {
          // graphql-js collects a fragment once per selection set, however often it is spread there.
          spread.add(selection.name.value);
          const fragment = fragments.get(selection.name.value);
          if (fragment) add(fragment.selectionSet);
        }
      }
    };
    sets.forEach(add);
    return byName;
  };
  const check = (sets: readonly SelectionSetNode[]): void => {
    for (const [name, fields] of collect(sets)) {
      if (fields.length > limits.maxFieldRepeats) {
        throw refusal(ErrorCode.TOO_MANY_FIELD_REPEATS, `"${name}" is selected ${fields.length} times in one selection set; at most ${limits.maxFieldRepeats} are allowed.`, {
          limit: limits.maxFieldRepeats,
        });
      }
      const children = fields.flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
      if (children.length > 0) check(children);
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) check([definition.selectionSet]);
  }
  return document;
}

/** Reports a graphql-armor rejection into the validation context under our own code (armor's message, minus its "Syntax Error:" prefix). */
function reportAs(code: ErrorCode, limit: number): GraphQLArmorCallbackConfiguration {
  return {
    propagateOnRejection: false,
    onReject: [
      (context, error) => {
        context?.reportError(refusal(code, error.message.replace(/^Syntax Error: /, ''), { limit }));
      },
    ],
  };
}

/** At most `max` root fields (fragments at the root counted as what they select); `__typename` is free. */
function maxRootFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(operation) {
      const seen = new Set<string>();
      const count = (selectionSet: SelectionSetNode): number =>
        selectionSet.selections.reduce((total, selection) => {
          if (selection.kind === Kind.FIELD) return total + (selection.name.value === '__typename' ? 0 : 1);
          if (selection.kind === Kind.INLINE_FRAGMENT) return total + count(selection.selectionSet);
          if (seen.has(selection.name.value)) return total;
          seen.add(selection.name.value);
          const fragment = context.getFragment(selection.name.value);
          return fragment ? total + count(fragment.selectionSet) : total;
        }, 0);
      const found = count(operation.selectionSet);
      if (found > max) {
        context.reportError(refusal(ErrorCode.TOO_MANY_ROOT_FIELDS, `An operation may select at most ${max} root fields; this one selects ${found}.`, { limit: max }));
      }
    },
  });
}

/** Document-only limits, as validation rules: they run once per distinct document (Apollo caches validated documents). */
export function limitRules(limits: OperationLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...reportAs(ErrorCode.QUERY_TOO_DEEP, limits.maxDepth) }),
    maxAliasesRule({ n: limits.maxAliases, ...reportAs(ErrorCode.TOO_MANY_ALIASES, limits.maxAliases) }),
    maxDirectivesRule({ n: limits.maxDirectives, ...reportAs(ErrorCode.TOO_MANY_DIRECTIVES, limits.maxDirectives) }),
    maxRootFieldsRule(limits.maxRootFields),
  ];
}

/**
 * Every field costs 1 plus what it selects; a field with `first` selects that many times over, a
 * connection's own `edges` list does not multiply again, any other list counts as `defaultListSize`
 * items. Introspection is answered by the gateway itself from the schema: a flat 1.
 */
function fieldCost(defaultListSize: number): ComplexityEstimator {
  return ({ field, args, childComplexity, type }) => {
    if (field.name === '__schema' || field.name === '__type') return 1;
    if (typeof args.first === 'number') return 1 + Math.max(args.first, 0) * childComplexity;
    if (isListType(getNullableType(field.type))) {
      const pageOfConnection = type.name.endsWith('Connection');
      return 1 + (pageOfConnection ? 1 : defaultListSize) * childComplexity;
    }
    return 1 + childComplexity;
  };
}

/** Nodes the cost walk may visit: fragments spread in many places are walked each time, so this bounds the walk itself. */
const MAX_COST_NODES = 20_000;

/**
 * The cost of the operation with these variables, or a refusal. Runs per request (it depends on the
 * variables), after validation, before the query is planned.
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | null | undefined,
  limits: OperationLimits,
): number {
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [fieldCost(limits.defaultListSize)],
      maxQueryNodes: MAX_COST_NODES,
    });
  } catch (error) {
    if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) {
      throw refusal(ErrorCode.QUERY_TOO_COSTLY, 'The operation is too large to estimate; select less.', { limit: limits.maxCost });
    }
    // Variables that do not coerce: the gateway refuses them with BAD_USER_INPUT before it plans or fetches anything.
    return 0;
  }
  if (cost > limits.maxCost) {
    throw refusal(
      ErrorCode.QUERY_TOO_COSTLY,
      `The operation's estimated cost is ${cost}, above the limit of ${limits.maxCost}: ask for smaller pages (\`first\`) or fewer nested lists.`,
      { cost, limit: limits.maxCost },
    );
  }
  return cost;
}

/** The operation's estimated cost against the limit, per request (`first` may come in a variable); not for the gateway's own executions. */
export function costLimit(limits: OperationLimits): ApolloServerPlugin<{ internal?: boolean }> {
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ schema, document, request, contextValue }) => {
        if (contextValue.internal) return;
        checkCost(schema, document, request.variables, request.operationName, limits);
      },
    }),
  };
}
