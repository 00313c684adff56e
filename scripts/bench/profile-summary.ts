/**
 * Where a .cpuprofile's time went: the top functions by self time, and self time grouped by area
 * (HTTP server, subgraph fetch, JWT, planner/executor, ...).
 *
 *   npx tsx scripts/bench/profile-summary.ts .data/profiles/gateway-*.cpuprofile [--top=25] [--last=12]
 *
 * --last=SECONDS counts only the samples of the profile's last SECONDS (the load, without the start-up
 * before it: a bench's processes stop right after the run).
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** First match wins: an area is named by the package (or our folder) a function comes from. */
const AREAS: Array<[string, RegExp]> = [
  ['idle', /^\((idle|program)\)$/],
  ['GC', /^\(garbage collector\)$/],
  ['subgraph fetch (undici / fetch / node:http client)', /undici|minipass-fetch|make-fetch-happen|@npmcli\/agent|agent-base|node-fetch|node:_http_client|node:_http_agent|_http_client|_http_agent/],
  ['JWT (jose, crypto)', /jose|node:crypto|internal\/crypto/],
  ['query planner', /@apollo\/query-planner|@apollo\/federation-internals|@apollo\/composition/],
  ['gateway executor', /@apollo\/gateway/],
  ['graphql-js (parse, validate, execute)', /node_modules\/graphql\//],
  ['Apollo Server', /@apollo\/server|@apollo\/utils|@as-integrations/],
  ['express, cors, body-parser', /node_modules\/(express|router|body-parser|cors|raw-body|iconv-lite|type-is|content-type|finalhandler|on-finished|qs|send|serve-static|negotiator|accepts|mime|media-typer|vary)\//],
  ['HTTP server and sockets (node)', /node:_http_server|node:_http_common|node:_http_outgoing|node:_http_incoming|node:net|node:stream|internal\/streams|node:events|internal\/http|_http_/],
  ['DataLoader', /dataloader/],
  ['Prisma and pg (database driver)', /@prisma|prisma|node_modules\/pg|pg-protocol|pg-pool/],
  ['logging (pino)', /pino/],
  ['limits, identity, plugins (ours)', /\/(gateway|kernel)\/src\//],
  ['subgraph code (ours)', /\/subgraphs\//],
  ['LRU caches', /lru-cache/],
  ['tsx loader', /tsx/],
];

function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  for (const [area, pattern] of AREAS) {
    if (area === 'idle' || area === 'GC') {
      if (pattern.test(functionName)) return area;
    } else if (pattern.test(url)) return area;
  }
  if (!url) return `native: ${functionName || '(anonymous)'}`;
  if (url.startsWith('node:')) return 'other node internals';
  return 'other';
}

function summarise(file: string, top: number, lastSeconds?: number): void {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  // Sample times (µs since the start); with --last only the samples after endTime - last count.
  let at = profile.startTime;
  const from = lastSeconds === undefined ? -Infinity : profile.endTime - lastSeconds * 1e6;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= from) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, micros] of self) {
    const node = byId.get(id)!;
    const area = areaOf(node);
    if (area === 'idle') {
      idle += micros;
      continue;
    }
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(gateway|kernel|subgraphs)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const busy = total - idle;
  const pct = (micros: number) => `${((100 * micros) / busy).toFixed(1)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)}%)`);
  console.log('\nby area (share of busy time):');
  // Natives under 1% each (regexps, fs calls at start-up) are one line together.
  for (const [area, micros] of [...areas]) {
    if (area.startsWith('native: ') && micros < busy / 100) {
      areas.delete(area);
      areas.set('native (each under 1%)', (areas.get('native (each under 1%)') ?? 0) + micros);
    }
  }
  for (const [area, micros] of [...areas].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(micros).padStart(6)}  ${area}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(micros).padStart(6)}  ${name}`);
}

const top = Number(process.argv.find((arg) => arg.startsWith('--top='))?.slice(6) ?? 25);
const last = process.argv.find((arg) => arg.startsWith('--last='))?.slice(7);
for (const file of process.argv.slice(2).filter((arg) => !arg.startsWith('--'))) summarise(file, top, last === undefined ? undefined : Number(last));
