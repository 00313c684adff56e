import { badUserInput } from '../../../kernel/src/errors';
import type { CreateProductInput, UpdateProductInput } from '../../../generated/graphql/catalog/resolvers';

export type { CreateProductInput, UpdateProductInput };

/** A checked product, ready for the database. */
export interface ProductFields {
  sku: string;
  name: string;
  description: string | null;
  category: string;
  priceAmount: number;
  currency: string;
  attributes: Record<string, unknown> | null;
  images: string[];
}

const SKU = /^[A-Za-z0-9._-]{1,64}$/;
const CURRENCY = /^[A-Z]{3}$/;
export const MAX_PRICE_AMOUNT = 1_000_000_000;
const MAX_IMAGES = 20;
const MAX_URL_LENGTH = 2048;
const MAX_ATTRIBUTES = 50;
const MAX_ATTRIBUTE_KEY_LENGTH = 100;

export function checkSku(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SKU.test(value)) {
    throw badUserInput(field, 'The SKU must be 1 to 64 characters: letters, digits, ".", "_" or "-".');
  }
  return value;
}

function checkText(value: unknown, field: string, label: string, max: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!text) throw badUserInput(field, `The ${label} must not be empty.`);
  if (text.length > max) throw badUserInput(field, `The ${label} must be at most ${max} characters long.`);
  return text;
}

function checkDescription(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (text.length > 5000) throw badUserInput(field, 'The description must be at most 5000 characters long.');
  return text || null;
}

function checkPrice(value: unknown, field: string): { priceAmount: number; currency: string } {
  const price = value as { amount?: unknown; currency?: unknown } | null;
  if (!price) throw badUserInput(field, 'The price must not be null.');
  const { amount, currency } = price;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0 || amount >= MAX_PRICE_AMOUNT) {
    throw badUserInput(`${field}.amount`, `The price must be a whole number of minor units (cents) from 0 to ${MAX_PRICE_AMOUNT - 1}.`);
  }
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    throw badUserInput(`${field}.currency`, 'The currency must be an ISO 4217 code: 3 uppercase letters, such as "USD".');
  }
  return { priceAmount: amount, currency };
}

function checkAttributes(value: unknown, field: string): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badUserInput(field, 'The attributes must be a JSON object, such as {"color": "red"}.');
  }
  const keys = Object.keys(value);
  if (keys.length > MAX_ATTRIBUTES) throw badUserInput(field, `A product can have at most ${MAX_ATTRIBUTES} attributes.`);
  const badKey = keys.find((key) => key.length === 0 || key.length > MAX_ATTRIBUTE_KEY_LENGTH);
  if (badKey !== undefined) throw badUserInput(field, `Attribute names must be 1 to ${MAX_ATTRIBUTE_KEY_LENGTH} characters long.`);
  return value as Record<string, unknown>;
}

function checkImages(value: unknown, field: string): string[] {
  if (value === null || value === undefined) return [];
  const images = value as unknown[];
  if (images.length > MAX_IMAGES) throw badUserInput(field, `A product can have at most ${MAX_IMAGES} images.`);
  images.forEach((image, i) => {
    if (!isHttpUrl(image)) throw badUserInput(`${field}[${i}]`, `Image ${i + 1} must be an http(s) URL of at most ${MAX_URL_LENGTH} characters.`);
  });
  return images as string[];
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > MAX_URL_LENGTH) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Checks a CreateProductInput; the first problem is a BAD_USER_INPUT naming its field (`input.price.amount`, ...). */
export function checkCreateInput(input: CreateProductInput, prefix = 'input'): ProductFields {
  return {
    sku: checkSku(input.sku, `${prefix}.sku`),
    name: checkText(input.name, `${prefix}.name`, 'name', 200),
    description: checkDescription(input.description, `${prefix}.description`),
    category: checkText(input.category, `${prefix}.category`, 'category', 100),
    ...checkPrice(input.price, `${prefix}.price`),
    attributes: checkAttributes(input.attributes, `${prefix}.attributes`),
    images: checkImages(input.images, `${prefix}.images`),
  };
}

/** Checks the fields an UpdateProductInput gives; required fields cannot be cleared with null. */
export function checkUpdateInput(input: UpdateProductInput, prefix = 'input'): Partial<ProductFields> {
  const changes: Partial<ProductFields> = {};
  const given = (key: keyof UpdateProductInput) => input[key] !== undefined;
  const required = (key: 'sku' | 'name' | 'category' | 'price') => {
    if (input[key] === null) throw badUserInput(`${prefix}.${key}`, `The ${key} cannot be removed, only changed.`);
  };
  if (given('sku')) {
    required('sku');
    changes.sku = checkSku(input.sku, `${prefix}.sku`);
  }
  if (given('name')) {
    required('name');
    changes.name = checkText(input.name, `${prefix}.name`, 'name', 200);
  }
  if (given('category')) {
    required('category');
    changes.category = checkText(input.category, `${prefix}.category`, 'category', 100);
  }
  if (given('price')) {
    required('price');
    Object.assign(changes, checkPrice(input.price, `${prefix}.price`));
  }
  if (given('description')) changes.description = checkDescription(input.description, `${prefix}.description`);
  if (given('attributes')) changes.attributes = checkAttributes(input.attributes, `${prefix}.attributes`);
  if (given('images')) changes.images = checkImages(input.images, `${prefix}.images`);
  return changes;
}
