/**
 * `npm run lab`: builds the lab VM image if needed, boots one VM, prints how to reach it,
 * and keeps it running until Ctrl-C (or SIGTERM), then stops it.
 *
 *   npm run lab -- [--disks 1024,1024] [--fill 0xa5] [--memory 1024]
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { labHostConfig, shQuote, startLab, type LabDiskSpec } from './vm.js';

function parseArgs(argv: string[]): { disks?: LabDiskSpec[]; memoryMiB?: number } {
  let sizes: number[] | undefined;
  let fill: number | undefined;
  let memoryMiB: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--disks')
      sizes = next()
        .split(',')
        .map((s) => Number.parseInt(s, 10));
    else if (a === '--fill') fill = Number(next());
    else if (a === '--memory') memoryMiB = Number.parseInt(next(), 10);
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npm run lab -- [--disks 1024,1024] [--fill 0xa5] [--memory 1024]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  const disks = sizes?.map((sizeMiB) => (fill === undefined ? { sizeMiB } : { sizeMiB, fillByte: fill }));
  return { disks, memoryMiB };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const vm = await startLab(opts);
  const ssh = ['ssh', ...vm.sshArgs(), 'root@127.0.0.1'].map(shQuote).join(' ');
  const dev = vm.devices[0] ?? '/dev/vda';
  process.stdout.write(
    [
      '',
      `lab VM running (qemu pid ${vm.pid}), disks ${vm.devices.map((d, i) => `${d}=${vm.diskFiles[i]}`).join(' ')}`,
      `serial console log: ${vm.consoleLog}`,
      '',
      'ssh:',
      `  ${ssh}`,
      '',
      'lvchain config reaching it (a VG "lab" on the first disk, created by the first apply):',
      stringify({
        version: 1,
        hosts: { lab: labHostConfig(vm) },
        volumeGroups: { lab: { host: 'lab', pvs: [dev] } },
      }).replace(/^/gm, '  '),
      'examples (inside the VM):',
      `  pvcreate ${dev} && vgcreate lab ${dev}`,
      '  lvcreate --yes -Wy --setautoactivation n -L 8m -n vm-100-disk-0.qcow2 --addtag pve-vm-100 lab',
      '  lvs --reportformat json --units b --nosuffix -o lv_name,lv_size,lv_tags,lv_attr',
      '  qemu-img create -f qcow2 -o extended_l2=on,cluster_size=128k,preallocation=metadata /dev/lab/vm-100-disk-0.qcow2 4M',
      "  qemu-io -c 'write -P 0x5a 0 64k' /dev/lab/vm-100-disk-0.qcow2",
      '',
      'Ctrl-C stops the VM.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping lab VM...\n');
    void vm.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  // keep the event loop alive; exit if qemu dies on its own
  const timer = setInterval(() => {
    try {
      process.kill(vm.pid, 0);
    } catch {
      let consoleTail = '';
      try {
        consoleTail = readFileSync(vm.consoleLog, 'utf8').slice(-3000);
      } catch {
        /* gone */
      }
      process.stderr.write(`lab VM (pid ${vm.pid}) exited. Serial console (tail):\n${consoleTail}\n`);
      clearInterval(timer);
      void vm.stop().then(() => process.exit(1));
    }
  }, 1000);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
