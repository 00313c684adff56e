import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './project-root';

/**
 * Production refuses a secret anyone could know: too short, obviously not random, or written in a
 * file of this repository (an example, a test, the docs), since whoever has the code then has it too.
 */

// The project's root is what ships with the code (the Docker image copies it whole, dist/ aside).
export { PROJECT_ROOT };

const MIN_SECRET_BYTES = 32;
const MIN_DISTINCT_CHARACTERS = 10;
const MAX_SCANNED_FILE_BYTES = 1024 * 1024;

/** Shared-key secrets, each with a way to make a good one (Telegram allows only A-Z a-z 0-9 _ - in its header). */
const SHARED_SECRETS: Record<string, string> = {
  JWT_SECRET: 'openssl rand -base64 48',
  OTP_SECRET: 'openssl rand -base64 48',
  TELEGRAM_WEBHOOK_SECRET: 'openssl rand -hex 32',
  METRICS_TOKEN: 'openssl rand -hex 32',
};
/** PEM private keys: their strength is the algorithm's, but a committed one is as public as a password. */
const PRIVATE_KEYS: Record<string, string> = { JWT_PRIVATE_KEY: 'a new key pair' };
/** Credentials issued by someone else (no strength rule of ours), which must not be the ones in the repository either. */
const ISSUED_CREDENTIALS: Record<string, string> = { TELEGRAM_BOT_TOKEN: "your bot's own token from @BotFather" };

// What never ships or is the operator's own: .gitignore's entries, and .env files (where the real secrets belong).
const SKIPPED_DIRECTORIES = new Set(['node_modules', '.git', '.data', 'generated', 'dist', 'coverage', '.scratch']);
const skippedFile = (name: string) => (/^\.env(\..+)?$/.test(name) && name !== '.env.example') || name.endsWith('.log');

/** A repeated shorter pattern ("abcdefghij" four times) is as guessable as the pattern. */
function repeatsAPattern(value: string): boolean {
  for (let period = 1; period <= value.length / 2; period++) {
    let repeats = true;
    for (let i = period; i < value.length && repeats; i++) repeats = value[i] === value[i - period];
    if (repeats) return true;
  }
  return false;
}

function weakness(variable: string, value: string): string | undefined {
  const make = SHARED_SECRETS[variable]!;
  if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES) {
    return `${variable} must be at least ${MIN_SECRET_BYTES} bytes in production (e.g. ${make})`;
  }
  if (new Set(value).size < MIN_DISTINCT_CHARACTERS || repeatsAPattern(value)) {
    return `${variable} is not random enough (fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters, or a repeated pattern); use e.g. ${make}`;
  }
  return undefined;
}

/** The base64 body of a PEM key, whatever its line breaks (real, or `\n` escapes on one .env line). */
const pemBody = (text: string) => text.replace(/\\n/g, '\n').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

/** Text files of the project, in a stable order, as paths relative to `root`. */
function* projectFiles(root: string, dir = ''): Generator<string> {
  const entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const relative = path.posix.join(dir, entry.name);
    // Symbolic links lead out of the project (a worktree's node_modules, say).
    if (SKIPPED_DIRECTORIES.has(entry.name)) continue;
    if (entry.isDirectory()) yield* projectFiles(root, relative);
    else if (entry.isFile() && !skippedFile(entry.name)) yield relative;
  }
}

function readText(file: string): string | undefined {
  if (fs.statSync(file).size > MAX_SCANNED_FILE_BYTES) return undefined;
  const bytes = fs.readFileSync(file);
  if (bytes.subarray(0, 8000).includes(0)) return undefined;
  return bytes.toString('utf8');
}

/** The first file under `root` in which one of the secrets (or a key's body) is written, and whose it is. */
function findWritten(root: string, secrets: [string, string][], keys: [string, string][]): { variable: string; file: string } | undefined {
  for (const file of projectFiles(root)) {
    const text = readText(path.join(root, file));
    if (text === undefined) continue;
    for (const [variable, value] of secrets) if (text.includes(value)) return { variable, file };
    if (!keys.length || !text.includes('PRIVATE KEY')) continue;
    const flattened = pemBody(text);
    for (const [variable, body] of keys) if (flattened.includes(body)) return { variable, file };
  }
  return undefined;
}

/**
 * The one-line problem with the secrets among `config`'s values, or undefined when they are all fit for
 * production. Called once at start, in production only: it reads every text file of the project.
 */
export function productionSecretProblem(config: Record<string, unknown>, root: string = PROJECT_ROOT): string | undefined {
  const secrets = Object.keys(SHARED_SECRETS)
    .filter((variable) => typeof config[variable] === 'string')
    .map((variable) => [variable, config[variable] as string] as [string, string]);
  for (const [variable, value] of secrets) {
    const problem = weakness(variable, value);
    if (problem) return problem;
  }
  secrets.push(
    ...Object.keys(ISSUED_CREDENTIALS)
      .filter((variable) => typeof config[variable] === 'string')
      .map((variable) => [variable, config[variable] as string] as [string, string]),
  );
  const keys = Object.keys(PRIVATE_KEYS).filter((variable) => typeof config[variable] === 'string')
    .map((variable) => [variable, pemBody(config[variable] as string)] as [string, string])
    .filter(([, body]) => body.length > 0);
  if (!secrets.length && !keys.length) return undefined;
  const written = findWritten(root, secrets, keys);
  if (written) {
    const make = SHARED_SECRETS[written.variable] ?? PRIVATE_KEYS[written.variable] ?? ISSUED_CREDENTIALS[written.variable];
    return `${written.variable} is written in ${written.file}, so it is no secret; set one of your own (e.g. ${make})`;
  }
  return undefined;
}
