import DataLoader from 'dataloader';

/**
 * A per-request DataLoader over a domain service's batch lookup ("these keys → a Map of what was
 * found"): one query per tick for every key asked, and each key gets its value or `missing`
 * (null for "no such row", [] for "no children").
 */
export function batchLoader<V>(find: (keys: readonly string[]) => Promise<Map<string, V>>, missing: V): DataLoader<string, V> {
  return new DataLoader(async (keys) => {
    const found = await find(keys);
    return keys.map((key) => found.get(key) ?? missing);
  });
}
