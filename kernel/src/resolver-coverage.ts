/**
 * Codegen types a resolver by its field, so a renamed field with a resolver fails to compile. A
 * field a mapped parent (a Prisma model, say) serves by itself has no resolver to fail: these
 * types close that gap.
 *
 *   type _ = EveryFieldResolved<Unresolved<Order, OrderModel, typeof resolvers.Order>>;
 *
 * fails to compile, naming the field, when the schema's `Order` has a field that neither the model
 * nor the resolvers provide.
 */
export type Unresolved<TSchemaType, TModel, TResolvers> = Exclude<keyof TSchemaType, '__typename' | keyof TModel | keyof TResolvers>;

/** Compiles only when `TMissing` (from `Unresolved`) is never. */
export type EveryFieldResolved<TMissing extends never> = TMissing;
