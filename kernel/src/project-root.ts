import fs from 'node:fs';
import path from 'node:path';

/**
 * The project's root, where package.json is: the nearest such directory above this file. The same from
 * the sources (kernel/src) and from a build (dist/kernel/src), so files read at run time (the SDL, the
 * supergraph, the migrations, .env) are the project's own, not copies in dist/.
 */
export const PROJECT_ROOT = findProjectRoot(__dirname);

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    // No package.json anywhere above: the sources' own layout (kernel/src is two levels down).
    if (path.dirname(dir) === dir) return path.resolve(from, '../..');
  }
}

/** A path inside the project, e.g. projectPath('subgraphs/catalog/schema.graphql'). */
export const projectPath = (relative: string): string => path.join(PROJECT_ROOT, relative);
