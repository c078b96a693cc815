/**
 * Builds the live-guest test image (test/guest/README.md): the lab's Debian cloud kernel and
 * an initramfs with static busybox, qemu-ga (unpacked from the qemu-guest-agent .deb, never
 * installed on the host) with its shared libraries, the virtio modules, /init and the writer.
 *
 * Cached in `<repo>/.cache/guest/build-<key>` (or $LVCHAIN_GUEST_CACHE); the key hashes this
 * file, the files in rootfs/, the kernel and agent packages and every copied host file.
 *
 * Run directly: `npx tsx test/guest/build.ts [--force]`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  REPO_ROOT,
  addHostPath,
  aptDownload,
  busyboxApplets,
  cpioNewc,
  ensureKernelDeb,
  findTool,
  labCacheDir,
  run,
  sha256,
  sharedLibraries,
  unpackKernel,
  withLock,
  type Entry,
  type HostFile,
  type Symlink,
} from '../lab/build.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOTFS = path.join(path.dirname(THIS_FILE), 'rootfs');
const AGENT_PACKAGE = 'qemu-guest-agent';
/** ext4 is built into the cloud kernel; virtio_console carries the agent's port. */
const MODULES = ['virtio_pci', 'virtio_blk', 'virtio_console'];

/** Host tools the rig needs, with the Debian package of each (for the error message). */
export const GUEST_HOST_TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  busybox: 'busybox-static',
  'mkfs.ext4': 'e2fsprogs',
  'fsck.ext4': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  ldd: 'libc-bin',
  dpkg: 'dpkg',
  'apt-get': 'apt',
  'apt-cache': 'apt',
};

export class GuestToolsMissing extends Error {
  readonly code = 'GUEST_TOOLS_MISSING';
  constructor(readonly missing: { tool: string; pkg: string }[]) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    super(
      `test guest: missing host tools: ${missing.map((m) => `${m.tool} (Debian package ${m.pkg})`).join(', ')}. ` +
        `Run \`sudo scripts/install-deps.sh test\` (or apt-get install --no-install-recommends ${pkgs.join(' ')}).`,
    );
    this.name = 'GuestToolsMissing';
  }
}

export function assertGuestTools(): void {
  const missing = Object.entries(GUEST_HOST_TOOLS)
    .filter(([tool]) => findTool(tool) === undefined)
    .map(([tool, pkg]) => ({ tool, pkg }));
  if (missing.length > 0) throw new GuestToolsMissing(missing);
}

export interface GuestArtifacts {
  cacheDir: string;
  key: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  agentPackage: string;
}

export function guestCacheDir(): string {
  return path.resolve(process.env.LVCHAIN_GUEST_CACHE ?? path.join(REPO_ROOT, '.cache', 'guest'));
}

/**
 * The agent's .deb: the one cached, else the candidate apt knows (downloaded). A cached one
 * is kept across apt upgrades: the rig needs an agent, not the newest agent.
 */
function ensureAgentDeb(cacheDir: string, log: (m: string) => void): string {
  const debDir = path.join(cacheDir, 'debs');
  fs.mkdirSync(debDir, { recursive: true });
  const cached = fs
    .readdirSync(debDir)
    .filter((f) => f.startsWith(`${AGENT_PACKAGE}_`) && f.endsWith('.deb'))
    .sort();
  const last = cached[cached.length - 1];
  if (last) return path.join(debDir, last);
  const r = spawnSync('apt-cache', ['show', '--no-all-versions', AGENT_PACKAGE], { encoding: 'utf8' });
  const version = /^Version:\s*(\S+)/m.exec(r.stdout)?.[1];
  if (r.status !== 0 || !version) {
    throw new Error(
      `test guest: apt does not know ${AGENT_PACKAGE}; run \`sudo scripts/lab-deps.sh\` (it runs apt-get update).`,
    );
  }
  const deb = path.join(debDir, `${AGENT_PACKAGE}_${version.replace(/:/g, '%3a')}_amd64.deb`);
  log(`downloading ${AGENT_PACKAGE} ${version} (apt-get download)`);
  aptDownload(`${AGENT_PACKAGE}=${version}`, deb);
  return deb;
}

function rootfsFiles(): { name: string; data: Buffer }[] {
  return fs
    .readdirSync(ROOTFS)
    .sort()
    .map((name) => ({ name, data: fs.readFileSync(path.join(ROOTFS, name)) }));
}

/** Busybox, qemu-ga and their libraries, as guest files (qemu-ga from the unpacked .deb). */
function hostFiles(agentRoot: string): { files: Map<string, HostFile>; links: Map<string, Symlink> } {
  const busybox = fs.realpathSync(findTool('busybox') ?? '/bin/busybox');
  const agent = path.join(agentRoot, 'usr', 'sbin', 'qemu-ga');
  if (!fs.existsSync(agent))
    throw new Error(`test guest: no usr/sbin/qemu-ga in the ${AGENT_PACKAGE} package`);
  const files = new Map<string, HostFile>([
    ['/usr/bin/busybox', { guestPath: '/usr/bin/busybox', hostPath: busybox, mode: 0o755 }],
    ['/usr/bin/qemu-ga', { guestPath: '/usr/bin/qemu-ga', hostPath: agent, mode: 0o755 }],
  ]);
  const links = new Map<string, Symlink>();
  let libs: string[];
  try {
    libs = sharedLibraries(agent);
  } catch (e) {
    // qemu-ga links the same libraries as qemu-system-x86_64 (glib, liburing, libnuma, libudev)
    throw new Error(
      `${(e as Error).message}\ntest guest: install qemu-system-x86, which brings qemu-ga's libraries`,
    );
  }
  for (const lib of libs) addHostPath(lib, files, links);
  return { files, links };
}

function assemble(
  files: Map<string, HostFile>,
  links: Map<string, Symlink>,
  modules: { name: string; data: Buffer }[],
): Entry[] {
  const out = new Map<string, Entry>();
  const dir = (p: string): void => {
    if (p === '/' || out.has(p)) return;
    dir(path.dirname(p));
    out.set(p, { kind: 'dir', path: p, mode: p === '/tmp' ? 0o1777 : 0o755 });
  };
  const add = (e: Entry): void => {
    dir(path.dirname(e.path));
    out.set(e.path, e);
  };
  // Library paths are the host's real paths; the usr-merge links are mirrored like the lab.
  const realDir = (p: string): string => path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
  for (const top of ['/lib', '/lib64']) {
    if (fs.existsSync(top) && fs.lstatSync(top).isSymbolicLink())
      add({ kind: 'symlink', path: top, target: fs.readlinkSync(top) });
  }
  for (const d of [
    '/usr/bin',
    '/proc',
    '/sys',
    '/dev',
    '/run',
    '/tmp',
    '/mnt',
    '/etc/guest',
    '/usr/lib/modules',
  ])
    dir(d);
  for (const l of ['/bin', '/sbin', '/usr/sbin'])
    add({ kind: 'symlink', path: l, target: l === '/usr/sbin' ? 'bin' : 'usr/bin' });
  add({ kind: 'symlink', path: '/var/run', target: '../run' });
  add({ kind: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 });
  for (const f of files.values())
    add({ kind: 'file', path: realDir(f.guestPath), mode: f.mode, data: fs.readFileSync(f.hostPath) });
  for (const l of links.values())
    if (!out.has(l.guestPath)) add({ ...l, kind: 'symlink', path: l.guestPath });
  for (const applet of busyboxApplets(findTool('busybox') ?? '/bin/busybox'))
    if (!out.has(`/usr/bin/${applet}`))
      add({ kind: 'symlink', path: `/usr/bin/${applet}`, target: 'busybox' });
  for (const m of modules)
    add({ kind: 'file', path: `/usr/lib/modules/${m.name}.ko`, mode: 0o644, data: m.data });
  const text = (p: string, s: string | Buffer, mode = 0o644): void =>
    add({ kind: 'file', path: p, mode, data: Buffer.from(s) });
  text('/etc/guest/modules', `${modules.map((m) => m.name).join('\n')}\n`);
  for (const f of rootfsFiles()) {
    if (f.name === 'init') text('/init', f.data, 0o755);
    else if (f.name === 'inittab') text('/etc/inittab', f.data);
    else if (f.name === 'shutdown') text('/usr/bin/shutdown', f.data, 0o755);
    else text(`/etc/guest/${f.name}`, f.data, 0o755);
  }
  text('/etc/passwd', 'root:x:0:0:root:/:/bin/sh\n');
  text('/etc/group', 'root:x:0:\n');
  return [...out.values()];
}

export function buildGuest(opts: { force?: boolean; log?: (m: string) => void } = {}): GuestArtifacts {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[guest] ${m}\n`));
  assertGuestTools();
  const cacheDir = guestCacheDir();
  fs.mkdirSync(cacheDir, { recursive: true });
  return withLock(path.join(cacheDir, 'build.lock'), 10 * 60_000, () => {
    // The kernel .deb is the lab's: one download serves both images.
    const kernel = ensureKernelDeb(labCacheDir(), log);
    const agentDeb = ensureAgentDeb(cacheDir, log);
    const work = fs.mkdtempSync(path.join(cacheDir, '.build-'));
    try {
      const agentRoot = path.join(work, 'agent');
      run('dpkg', ['-x', agentDeb, agentRoot]);
      const { files, links } = hostFiles(agentRoot);
      const h = createHash('sha256');
      h.update(fs.readFileSync(THIS_FILE));
      h.update(`\0kernel:${path.basename(kernel.deb)}:${fs.statSync(kernel.deb).size}`);
      for (const f of rootfsFiles()) h.update(`\0rootfs:${f.name}:${sha256(f.data)}`);
      for (const f of [...files.values()].sort((a, b) => a.guestPath.localeCompare(b.guestPath)))
        h.update(`\0file:${f.guestPath}:${f.mode}:${sha256(fs.readFileSync(f.hostPath))}`);
      for (const l of [...links.values()].sort((a, b) => a.guestPath.localeCompare(b.guestPath)))
        h.update(`\0link:${l.guestPath}:${l.target}`);
      const key = h.digest('hex').slice(0, 16);
      const buildDir = path.join(cacheDir, `build-${key}`);
      const manifest = path.join(buildDir, 'manifest.json');
      // The paths come from where the cache is now: a checkout that moved keeps its build.
      if (!opts.force && fs.existsSync(manifest))
        return {
          ...(JSON.parse(fs.readFileSync(manifest, 'utf8')) as GuestArtifacts),
          cacheDir,
          kernel: path.join(buildDir, 'vmlinuz'),
          initrd: path.join(buildDir, 'initrd.cpio.gz'),
        };

      const t0 = Date.now();
      log(`building guest image ${key} in ${cacheDir}`);
      const parts = unpackKernel(kernel.deb, work, MODULES);
      const cpio = cpioNewc(assemble(files, links, parts.modules));
      const stage = path.join(work, 'out');
      fs.mkdirSync(stage);
      fs.copyFileSync(parts.vmlinuz, path.join(stage, 'vmlinuz'));
      fs.writeFileSync(path.join(stage, 'initrd.cpio.gz'), gzipSync(cpio, { level: 6 }));
      const art: GuestArtifacts = {
        cacheDir,
        key,
        kernel: path.join(buildDir, 'vmlinuz'),
        initrd: path.join(buildDir, 'initrd.cpio.gz'),
        kernelVersion: parts.version,
        agentPackage: path.basename(agentDeb),
      };
      fs.writeFileSync(path.join(stage, 'manifest.json'), `${JSON.stringify(art, null, 2)}\n`);
      fs.rmSync(buildDir, { recursive: true, force: true });
      fs.renameSync(stage, buildDir);
      for (const d of fs.readdirSync(cacheDir))
        if (d.startsWith('build-') && d !== path.basename(buildDir))
          fs.rmSync(path.join(cacheDir, d), { recursive: true, force: true });
      log(
        `built in ${((Date.now() - t0) / 1000).toFixed(1)} s: kernel ${parts.version}, initrd ` +
          `${(cpio.length / 2 ** 20).toFixed(1)} MiB, modules ${parts.modules.map((m) => m.name).join(' ')}`,
      );
      return art;
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === THIS_FILE) {
  const a = buildGuest({ force: process.argv.includes('--force') });
  process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
}
