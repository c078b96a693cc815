import type { GlobalOptions, Io } from './io.js';
import { ConfigError, formatIssue } from '../base/errors.js';
import { Session } from './session.js';
import { checkProxmox } from './proxmox-check.js';
import { worstCaseRetained, readCostPercent } from '../policy/schedule.js';
import { worstCases } from './worst-case.js';
import { formatBytes } from '../base/units.js';

export async function validateCommand(g: GlobalOptions, o: { json: boolean }, io: Io): Promise<number> {
  const session = await Session.open(g.config);
  let proxmox;
  try {
    proxmox = await checkProxmox(session);
  } finally {
    await session.close();
  }
  if (proxmox.errors.length > 0) throw new ConfigError(proxmox.errors);
  const loaded = session.config;
  const warnings = [...loaded.warnings, ...proxmox.warnings];
  const d = loaded.desired;
  const policies = Object.values(d.policies).map((p) => {
    const worst = worstCaseRetained(
      p.retention,
      p.schedule !== undefined ? { cron: p.schedule, timezone: p.timezone } : undefined,
      0,
    );
    return {
      name: p.name,
      worstCaseSnapshots: worst,
      readCostPercent: typeof worst === 'number' ? Math.round(readCostPercent(worst + 1) * 10) / 10 : null,
      maxChainDepth: p.maxChainDepth,
    };
  });
  const worst = await worstCases(d);
  if (o.json) {
    io.out(
      JSON.stringify(
        {
          valid: true,
          config: d.source,
          warnings,
          proxmox: proxmox.notes,
          policies,
          storages: worst,
          disks: Object.keys(d.disks).length,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const w of warnings) io.err(io.style.yellow(`Warning: ${formatIssue(w)}`));
  io.out(
    io.style.green(io.style.bold('Success!')) +
      ` The configuration is valid: ${Object.keys(d.disks).length} disk(s) on ${Object.keys(d.storages).length} storage(s).`,
  );
  for (const note of proxmox.notes) io.out(`  ${note}`);
  for (const p of policies) {
    io.out(
      `  policy ${p.name}: keeps at most ${p.worstCaseSnapshots} snapshot(s) (maxChainDepth ${p.maxChainDepth}); a chain that deep reads about ${p.readCostPercent}% slower than a single layer`,
    );
  }
  for (const w of worst) {
    const estimated = w.measured ? '' : ' (estimated: qemu-img is not installed here)';
    if (w.bytes === null)
      io.out(`  storage ${w.storage}: unbounded (a policy keeps snapshots without limit)${estimated}`);
    else if (w.kind === 'lvm')
      io.out(
        `  storage ${w.storage}: the declared disks take up to ${formatBytes(w.bytes)} once their policies keep every snapshot they allow; thick LVM allocates each LV in full when it is made, so this is paid up front, whatever the guests write${estimated}`,
      );
    else
      io.out(
        `  storage ${w.storage}: the declared disks can need up to ${formatBytes(w.bytes)} in the worst case, if every kept snapshot is fully written${estimated}`,
      );
  }
  return 0;
}
