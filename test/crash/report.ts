/** The crash harness's sections of docs/reliability.md: a table of operation × kill point → outcome. */
import { readFileSync } from 'node:fs';
import { generatedBy } from '../helpers/reliability.js';
import type { Backend, KillResult } from './harness.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export interface SectionFacts {
  backend: Backend;
  testFile: string;
  /** How the storage was set up, and anything measured beside the table. */
  notes: string[];
  wallMs: number;
  /** CPU seconds of the run (this process and its children, VMs included). */
  cpuSeconds: number;
}

export function renderSection(facts: SectionFacts, results: readonly KillResult[]): string {
  const name = facts.backend === 'dir' ? 'directory backend' : 'thick LVM over ssh (lab VM)';
  const failed = results.filter((r) => r.problems.length > 0);
  const byOp = new Map<string, number>();
  for (const r of results) byOp.set(r.operation, (byOp.get(r.operation) ?? 0) + 1);
  const lines = [
    `## Crash injection: ${name}`,
    '',
    generatedBy(facts.testFile),
    '',
    `**${results.length} kill points** on the ${facts.backend} backend: ${results.length - failed.length} converged with every layer intact` +
      `${failed.length > 0 ? `, **${failed.length} did not**` : ''}. Wall time of the run: ${(facts.wallMs / 60_000).toFixed(1)} min.`,
    '',
    ...facts.notes.map((n) => `- ${n}`),
    '',
    `Kill points per operation: ${[...byOp].map(([op, n]) => `${op} ${n}`).join(', ')}.`,
    '',
    '| operation | kill point | backend | plan shows resume | converged | data | time | notes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const notes = [
      r.mode === 'ssh-connection' ? 'only the ssh connection was killed' : '',
      r.landed === 'at the kill point' ? '' : `landed: ${r.landed}`,
      r.leftovers.length > 0 ? `left: ${r.leftovers.join(', ')}` : '',
      r.recovery === 'apply' ? '' : `recovery: ${r.recovery}`,
      r.survivors.length > 0 ? `survivors: ${r.survivors.join('; ')}` : '',
      ...r.problems,
    ]
      .filter(Boolean)
      .join('; ');
    lines.push(
      `| ${cell(r.operation)} | ${cell(r.point)} | ${r.backend} | ${r.planShowsResume} | ${r.converged ? 'yes' : 'no'} | ${r.data} | ${(r.ms / 1000).toFixed(1)} s | ${cell(notes)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * CPU seconds used by this process and every child it has waited for (lvchain runs, qemu-img,
 * ssh, the lab VMs once stopped): with the wall time, it tells how long the run takes on an
 * otherwise idle machine of N cores (at least cpu / N).
 */
export function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat; here offset by the 2 before ') '.
  const ticks = [11, 12, 13, 14].reduce((n, i) => n + Number(fields[i] ?? 0), 0);
  return ticks / 100;
}
