/**
 * supergraph.yaml -> supergraph.graphql, as `rover supergraph compose` would do, with @apollo/composition.
 *   npm run compose            write supergraph.graphql
 *   npm run compose -- --check exit 1 when the committed file is stale
 */
import fs from 'node:fs';
import path from 'node:path';
import { composeSupergraph, SUPERGRAPH_FILE } from './lib/composition';

const check = process.argv.includes('--check');
const result = composeSupergraph();
if (!result.ok) {
  console.error(`Composition failed:\n${result.errors.map((e) => `  - ${e}`).join('\n')}`);
  process.exit(1);
}
const relative = path.relative(process.cwd(), SUPERGRAPH_FILE);
const current = fs.existsSync(SUPERGRAPH_FILE) ? fs.readFileSync(SUPERGRAPH_FILE, 'utf8') : '';
if (check) {
  if (current !== result.supergraphSdl) {
    console.error(`${relative} is stale: run npm run compose and commit it.`);
    process.exit(1);
  }
  console.log(`${relative} is up to date.`);
} else if (current === result.supergraphSdl) {
  console.log(`${relative} is up to date.`);
} else {
  fs.writeFileSync(SUPERGRAPH_FILE, result.supergraphSdl);
  console.log(`Wrote ${relative}.`);
}
