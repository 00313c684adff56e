// What `npm run build` makes, for the tests of the build itself and of the deployments that run it.
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');

/** The build's settings: what `npm run build` compiles (tsc -p tsconfig.build.json). */
export const BUILD_CONFIG = path.join(ROOT, 'tsconfig.build.json');

/**
 * The JavaScript files the build writes, relative to the project (`dist/gateway/src/main.js`):
 * tsconfig.build.json's files, moved from its rootDir to its outDir (or to `outDir`), .ts to .js.
 */
export function builtFiles(outDir?: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(BUILD_CONFIG, outDir ? { outDir } : {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`${BUILD_CONFIG} could not be read`);
  const { rootDir, outDir: out } = parsed.options;
  if (!rootDir || !out) throw new Error('tsconfig.build.json must set rootDir and outDir');
  return parsed.fileNames
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => path.relative(ROOT, path.join(out, path.relative(rootDir, file))).replace(/\.ts$/, '.js'));
}

/** The script of a `node <script> ...` command, or undefined for any other command. */
export function nodeScript(command: unknown): string | undefined {
  return Array.isArray(command) && command[0] === 'node' && typeof command[1] === 'string' ? command[1] : undefined;
}
