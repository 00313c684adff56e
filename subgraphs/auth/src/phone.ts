import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { badUserInput } from '../../../kernel/src/errors';

/** A phone number in E.164 (+14155550123), or a BAD_USER_INPUT error naming `field`. */
export function normalizePhone(raw: string, defaultRegion?: string, field = 'phone'): string {
  const input = raw.trim();
  if (input.length === 0 || input.length > 32) {
    throw badUserInput(field, 'Enter a phone number in international format, e.g. +14155550123.');
  }
  const parsed = parsePhoneNumberFromString(input, defaultRegion as CountryCode | undefined);
  if (!parsed || !parsed.isValid()) {
    throw badUserInput(field, `"${input}" is not a valid phone number; use international format, e.g. +14155550123.`);
  }
  return parsed.number;
}

/** Like normalizePhone, for contacts shared in Telegram: their number may lack the leading "+". */
export function normalizeTelegramPhone(raw: string, defaultRegion?: string): string {
  const digits = raw.trim();
  return normalizePhone(/^\d/.test(digits) ? `+${digits}` : digits, defaultRegion);
}
