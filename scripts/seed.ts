/**
 * Demo data for a first look (run by `npm start`): a few products with stock, created through the
 * gateway as an admin would, so every rule and event applies. Does nothing when they exist already.
 */
import { JwtService } from '../kernel/src/jwt';

/** The seed acts as this (synthetic) admin; its changes show as user:<id> in the stock audit trail. */
const SEED_ADMIN_ID = '5eed0000-0000-4000-8000-000000000001';

const PRODUCTS = [
  { sku: 'DEMO-LAMP-01', name: 'Walnut desk lamp', category: 'lighting', price: 4900, stock: 12, description: 'Warm LED desk lamp with a solid walnut arm.', attributes: { color: 'walnut', wattage: 8 } },
  { sku: 'DEMO-LAMP-02', name: 'Brass floor lamp', category: 'lighting', price: 12900, stock: 3, description: 'Tall reading lamp in brushed brass.', attributes: { color: 'brass' } },
  { sku: 'DEMO-KBD-01', name: 'Mechanical keyboard', category: 'computers', price: 8900, stock: 25, description: 'Tenkeyless keyboard with hot-swappable switches.', attributes: { layout: 'TKL', switches: 'brown' } },
  { sku: 'DEMO-HP-01', name: 'Wireless headphones', category: 'audio', price: 15900, stock: 8, description: 'Over-ear headphones with active noise cancelling.', attributes: { color: 'black', wireless: true } },
  { sku: 'DEMO-SPK-01', name: 'Bookshelf speakers', category: 'audio', price: 21900, stock: 0, description: 'A pair of passive speakers for small rooms.', attributes: { color: 'oak' } },
  { sku: 'DEMO-MUG-01', name: 'Stoneware coffee mug', category: 'kitchen', price: 1800, stock: 40, description: 'Hand-glazed mug, 350 ml, dishwasher safe.', attributes: { color: 'blue', capacityMl: 350 } },
  { sku: 'DEMO-KTL-01', name: 'Gooseneck kettle', category: 'kitchen', price: 6900, stock: 6, description: 'Pour-over kettle with temperature control.', attributes: { capacityMl: 900 } },
  { sku: 'DEMO-RUN-01', name: 'Trail running shoes', category: 'sports', price: 11900, stock: 15, description: 'Grippy, light shoes for running on trails.', attributes: { size: 42, color: 'orange' } },
];

async function call(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: Array<{ message: string }> };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data!;
}

/** Returns how many products it created. */
export async function seedDemoData(gatewayUrl: string, jwt: JwtService): Promise<number> {
  const token = await jwt.signAccess({ id: SEED_ADMIN_ID, role: 'ADMIN' });
  let created = 0;
  for (const product of PRODUCTS) {
    const existing = await call(gatewayUrl, token, 'query($sku: String!) { productBySku(sku: $sku) { id } }', { sku: product.sku });
    if (existing.productBySku) continue;
    const { createProduct } = await call(
      gatewayUrl,
      token,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }',
      {
        input: {
          sku: product.sku,
          name: product.name,
          category: product.category,
          description: product.description,
          attributes: product.attributes,
          price: { amount: product.price, currency: 'USD' },
        },
      },
    );
    await call(gatewayUrl, token, 'mutation($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }', {
      input: { productId: createProduct.id, onHand: product.stock, lowStockThreshold: 3 },
    });
    created++;
  }
  return created;
}
