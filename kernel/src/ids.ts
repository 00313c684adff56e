import { badUserInput } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every entity id is a UUID. */
export const isUuid = (id: string): boolean => UUID.test(id);

export function assertUuid(id: string, field: string): void {
  if (!isUuid(id)) throw badUserInput(field, `"${id}" is not a valid id.`);
}
