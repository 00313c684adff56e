/** `"schema"."table"` for raw SQL; the schema is checked because identifiers cannot be bind parameters. */
export function schemaTable(schema: string, table: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`"${schema}" is not a valid schema name`);
  return `"${schema}"."${table}"`;
}

/** Interactive transactions wait for a pooled connection under load instead of failing after 2 s. */
export const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 15_000 };
