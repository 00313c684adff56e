/** The soak's report as Markdown, and docs/soak.md's section between its markers. */
import fs from 'node:fs';
import path from 'node:path';
import type { SoakReport } from './run';

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);
const n = (value: number) => value.toLocaleString('en');

export function renderReport(report: SoakReport, machine: string): string {
  const out: string[] = [];
  const { options, traffic, load } = report;
  out.push(`Run ${report.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}: ${report.loadSeconds.toFixed(0)} s of load (asked ${options.durationSeconds} s), ` +
    `${options.customers} customers (+${load.logins} newcomers logged in during the load), ${options.browsers} browsers, ${options.subscribers} stock subscribers, ${options.products} products. ` +
    `**Result: ${report.ok ? 'every invariant holds' : 'INVARIANTS FAILED'}.**`);
  out.push('');
  out.push('### Requests');
  out.push('');
  const failed = traffic.byOperation.reduce((sum, [, t]) => sum + t.failed, 0);
  out.push(`${n(traffic.served)} requests and waits through the gateway and the bot (${(traffic.served / report.loadSeconds).toFixed(1)}/s), ${n(failed)} answered with an error; ` +
    `${n(load.ordersPlaced)} orders placed: ${n(load.confirmedByApi)} confirmed by the API, ${n(load.confirmedByButton)} by the Telegram button ` +
    `(${n(load.buttonFallbacks)} asks not in time, confirmed by the API), ${n(load.cancelled)} cancelled, ${n(load.leftAwaiting)} left to their deadline; ` +
    `${n(load.adjustments)} stock adjustments; ${n(load.watchersOpened)} subscriptions opened (replacements of cut-off ones included). ` +
    `Fault probes: ${n(report.probes.served)} requests.`);
  out.push('');
  out.push('| operation | ok | error |');
  out.push('|---|---:|---:|');
  for (const [operation, tally] of traffic.byOperation) out.push(`| ${operation} | ${n(tally.ok)} | ${n(tally.failed)} |`);
  out.push('');
  out.push('Errors by `extensions.code` (CONNECTION: no answer, the gateway was down; TELEGRAM_TIMEOUT: a bot message that did not come within the wait):');
  out.push('');
  out.push('| code | count |');
  out.push('|---|---:|');
  for (const [code, count] of traffic.errorsByCode) out.push(`| ${code} | ${n(count)} |`);
  if (traffic.errorsByCode.length === 0) out.push('| (none) | 0 |');
  out.push('');
  out.push('### Faults');
  out.push('');
  out.push('| # | fault | at | restored after | served again after | probe |');
  out.push('|---:|---|---:|---:|---:|---|');
  report.faults.forEach((fault, i) => {
    const restored = fault.restoredAt === undefined ? undefined : fault.restoredAt - fault.injectedAt;
    const recovered = fault.recoveredAt === undefined ? undefined : fault.recoveredAt - fault.injectedAt;
    out.push(`| ${i + 1} | ${fault.fault}${fault.detail ? ` (${fault.detail})` : ''} | +${seconds(fault.offsetMs)} | ${seconds(restored)} | ${recovered === undefined ? '**not recovered**' : seconds(recovered)} | ${fault.probe} |`);
  });
  out.push('');
  out.push(`"Restored": the process ready again (/ready), Redis answering, the Bot API's fault over. "Served again": from the injection until the probe (the path the fault broke, through the gateway) succeeded.`);
  out.push('');
  out.push('### Invariants');
  out.push('');
  out.push(`Checked after the load stopped and the shop settled (${seconds(report.settleMs)}${report.stillInFlight.length ? `; still in flight: ${report.stillInFlight.join(', ')}` : ''}).`);
  out.push('');
  out.push('| invariant | holds | checked |');
  out.push('|---|---|---|');
  for (const inv of report.invariants) out.push(`| ${inv.name} | ${inv.ok ? 'yes' : '**NO**'} | ${inv.detail.replace(/\|/g, '\\|')} |`);
  const failures = report.invariants.filter((inv) => !inv.ok);
  if (failures.length) {
    out.push('');
    for (const inv of failures) {
      out.push(`- **${inv.name}**:`);
      for (const v of inv.violations) out.push(`  - ${v}`);
    }
  }
  return out.join('\n');
}

/** Rewrites the `<!-- soak:start -->` .. `<!-- soak:end -->` section of `file`, keeping the rest. */
export function writeSoakSection(file: string, section: string): void {
  const startMarker = '<!-- soak:start -->';
  const endMarker = '<!-- soak:end -->';
  const block = `${startMarker}\n${section}\n${endMarker}`;
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Soak\n';
  const start = current.indexOf(startMarker);
  const end = current.indexOf(endMarker);
  const next = start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + endMarker.length) : `${current.trimEnd()}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, next);
}
