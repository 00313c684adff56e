/** The shop's processes and the file each starts from (`node --import tsx <entry>`, as `npm start` runs them). */
export const SUBGRAPHS = ['auth', 'catalog', 'inventory', 'order', 'notification'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];
export type ProcessName = SubgraphName | 'gateway';

/** Paths from the project's root. */
export const ENTRIES: Record<ProcessName, string> = {
  auth: 'subgraphs/auth/src/main.ts',
  catalog: 'subgraphs/catalog/src/main.ts',
  inventory: 'subgraphs/inventory/src/main.ts',
  order: 'subgraphs/order/src/main.ts',
  notification: 'subgraphs/notification/src/main.ts',
  gateway: 'gateway/src/main.ts',
};
