import { badUserInput } from './errors';

/** Opaque Relay cursors: base64url of a small JSON object. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor(cursor: string, field: string): Record<string, string> & { at: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, string> & { at: string; id: string };
  } catch {
    // fall through to the error below
  }
  throw badUserInput(field, `"${cursor}" is not a cursor this API returned.`);
}
