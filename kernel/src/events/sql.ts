/** `"schema"."table"` for raw SQL; the schema is checked because identifiers cannot be bind parameters. */
export function schemaTable(schema: string, table: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`"${schema}" is not a valid schema name`);
  return `"${schema}"."${table}"`;
}
