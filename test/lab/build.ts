/**
 * Builds the test host VM ("lab", DESIGN §11.3): a Debian cloud kernel plus an initramfs
 * with busybox, LVM, dmsetup, qemu-img/qemu-io, util-linux tools and dropbear.
 *
 * Everything lands in a cache dir (`<repo>/.cache/lab/`, or $LVCHAIN_LAB_CACHE). A build
 * is keyed by a hash of its inputs (this file, the kernel package, the content of every
 * host file copied in, the ssh keys), so a package upgrade or an edit here rebuilds and
 * anything else reuses the cache.
 *
 * Run directly: `npx tsx test/lab/build.ts [--force]`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

/** Kernel modules to load, by name; their dependencies are added and ordered. */
const MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio-rng', 'dm-mod', 'fuse'];

/** Host tools and the Debian package that provides each (for error messages). */
export const HOST_TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  'qemu-io': 'qemu-utils',
  'qemu-storage-daemon': 'qemu-system-common',
  socat: 'socat',
  lvm: 'lvm2',
  dmsetup: 'dmsetup',
  dropbear: 'dropbear-bin',
  dropbearkey: 'dropbear-bin',
  busybox: 'busybox-static',
  blkdiscard: 'util-linux',
  wipefs: 'util-linux',
  flock: 'util-linux',
  ldd: 'libc-bin',
  env: 'coreutils',
  xargs: 'findutils',
  grep: 'grep',
  sed: 'sed',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  dash: 'dash',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  dpkg: 'dpkg',
};

const STDBUF_LIBRARY = '/usr/libexec/coreutils/libstdbuf.so';
/** Debian builds QEMU's TCG accelerator as a module, which even `-machine none` loads. */
const QEMU_TCG_MODULE = '/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so';

/**
 * Binaries copied into the guest (all end up in /usr/bin; /bin, /sbin, /usr/sbin point there).
 * /bin/sh is dash, as on Debian/Proxmox hosts: Debian's static busybox ash prefers its own
 * applets over PATH, so under ash `blkdiscard` would be busybox's (no --zeroout).
 */
const GUEST_BINARIES = [
  'busybox',
  'dash',
  'lvm',
  'dmsetup',
  'qemu-img',
  'qemu-io',
  'qemu-storage-daemon',
  // With -machine none, a QEMU that holds a chain's LVs and can pause its (absent) guest, as the
  // live engine's commit of the top needs: qemu-storage-daemon has no "stop".
  'qemu-system-x86_64',
  'socat',
  'blkdiscard',
  'wipefs',
  'flock',
  'dropbear',
];

/**
 * Debian packages whose programs also go into the guest (all of them, or the listed
 * ones), in front of busybox. Debian's static busybox runs its own applets in preference
 * to PATH from inside applets like env, timeout, time, xargs and nice, so
 * `timeout 9 blkdiscard --zeroout` would run busybox's blkdiscard (no --zeroout). GNU
 * tools also match what a Proxmox host has (dd status=none, stat -c, ...).
 */
// prettier-ignore
const GUEST_PACKAGES: Record<string, string[] | 'all'> = {
  coreutils: 'all',
  findutils: 'all',
  grep: ['grep', 'egrep', 'fgrep'],
  sed: 'all',
  'util-linux': [
    'blkdiscard', 'blkid', 'blockdev', 'lsblk', 'wipefs', 'flock', 'fallocate', 'setsid',
    'taskset', 'ionice', 'findmnt', 'nsenter', 'unshare', 'getopt', 'fstrim', 'prlimit',
  ],
};

/** Programs of a Debian package (per `dpkg -L`), by name. */
function packagePrograms(pkg: string, only: string[] | 'all'): Map<string, string> {
  const r = spawnSync('dpkg', ['-L', pkg], { encoding: 'utf8' });
  if (r.status !== 0) throw new LabHostToolsMissing([{ tool: `(programs of ${pkg})`, pkg }]);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    if (!/^\/(usr\/)?s?bin\/[^/]+$/.test(line)) continue;
    const name = path.basename(line);
    if (only !== 'all' && !only.includes(name)) continue;
    try {
      if (!fs.lstatSync(line).isFile()) continue; // skip symlinks and diverted/removed files
    } catch {
      continue;
    }
    if (!out.has(name)) out.set(name, line);
  }
  return out;
}

/** LVM command names that are symlinks to `lvm` (used if the host has none to copy). */
// prettier-ignore
const LVM_COMMANDS = [
  'lvchange', 'lvconvert', 'lvcreate', 'lvdisplay', 'lvextend', 'lvmconfig', 'lvmdiskscan',
  'lvreduce', 'lvremove', 'lvrename', 'lvresize', 'lvs', 'lvscan', 'pvchange', 'pvck',
  'pvcreate', 'pvdisplay', 'pvmove', 'pvremove', 'pvresize', 'pvs', 'pvscan', 'vgcfgbackup',
  'vgcfgrestore', 'vgchange', 'vgck', 'vgconvert', 'vgcreate', 'vgdisplay', 'vgexport',
  'vgextend', 'vgimport', 'vgimportclone', 'vgmerge', 'vgmknodes', 'vgreduce', 'vgremove',
  'vgrename', 'vgs', 'vgscan', 'vgsplit',
];

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface LabArtifacts {
  cacheDir: string;
  /** Directory of this build: `<cache>/build-<key>`. */
  buildDir: string;
  key: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  kernelPackage: string;
  /** ssh client key (ed25519, no passphrase) authorised for root in the guest. */
  identityFile: string;
  /** The guest's host key as `ssh-ed25519 AAAA...` (for known_hosts). */
  hostPublicKey: string;
}

export interface BuildOptions {
  force?: boolean;
  log?: (msg: string) => void;
}

/**
 * A cached build's paths, from where the cache is now: a cache made in another checkout (a
 * worktree since removed, a moved clone) keeps its build, not its old absolute paths.
 */
function locatedIn(cacheDir: string, m: LabArtifacts): LabArtifacts {
  const buildDir = path.join(cacheDir, `build-${m.key}`);
  return {
    ...m,
    cacheDir,
    buildDir,
    kernel: path.join(buildDir, path.basename(m.kernel)),
    initrd: path.join(buildDir, path.basename(m.initrd)),
    identityFile: path.join(cacheDir, path.basename(m.identityFile)),
  };
}

export function labCacheDir(): string {
  return path.resolve(process.env.LVCHAIN_LAB_CACHE ?? path.join(REPO_ROOT, '.cache', 'lab'));
}

export function findTool(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Names the missing host tools and their Debian packages; empty when all are present. */
export function missingHostTools(): { tool: string; pkg: string }[] {
  return Object.entries(HOST_TOOLS)
    .filter(([tool]) => findTool(tool) === undefined)
    .map(([tool, pkg]) => ({ tool, pkg }));
}

export class LabHostToolsMissing extends Error {
  readonly code = 'LAB_HOST_TOOLS_MISSING';
  constructor(readonly missing: { tool: string; pkg: string }[]) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    super(
      `lab VM: missing host tools: ${missing.map((m) => `${m.tool} (Debian package ${m.pkg})`).join(', ')}. ` +
        `Install them with \`sudo scripts/lab-deps.sh\` (or apt-get install --no-install-recommends ${pkgs.join(' ')}).`,
    );
    this.name = 'LabHostToolsMissing';
  }
}

export function assertHostTools(): void {
  const missing = missingHostTools();
  if (missing.length > 0) throw new LabHostToolsMissing(missing);
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`lab build: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`lab build: ${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A cross-process lock: an exclusive-create file holding the owner's pid; stale owners are ignored. */
export function withLock<T>(lockFile: string, timeoutMs: number, fn: () => T): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(fs.readFileSync(lockFile, 'utf8') || '0', 10);
      if (!owner || !pidAlive(owner)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lab build: lock ${lockFile} held by pid ${owner}`);
      sleepSync(250);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// kernel

export interface KernelPackage {
  name: string; // linux-image-6.1.0-56-cloud-amd64
  version: string; // 6.1.192-2
}

/**
 * Which versioned kernel package the meta package points to, per apt's lists. `apt-cache`
 * takes ~1 s, so the answer is memoised until apt's lists change.
 */
function resolveKernelPackage(): KernelPackage | undefined {
  const memo = path.join(labCacheDir(), 'kernel-resolve.json');
  const listsSig = ['/var/lib/apt/lists', '/var/cache/apt/pkgcache.bin'].map(statSig).join('|');
  try {
    const m = JSON.parse(fs.readFileSync(memo, 'utf8')) as { listsSig: string; pkg: KernelPackage };
    if (m.listsSig === listsSig && m.pkg) return m.pkg;
  } catch {
    /* no memo */
  }
  const pkg = resolveKernelPackageUncached();
  if (pkg) fs.writeFileSync(memo, JSON.stringify({ listsSig, pkg }));
  return pkg;
}

function resolveKernelPackageUncached(): KernelPackage | undefined {
  const r = spawnSync('apt-cache', ['show', '--no-all-versions', KERNEL_META_PACKAGE], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return undefined;
  const m = /^Depends:.*?\b(linux-image-[0-9][^\s,()]*-cloud-amd64)\s*\(=\s*([^)\s]+)\)/m.exec(r.stdout);
  if (!m?.[1] || !m[2]) return undefined;
  return { name: m[1], version: m[2] };
}

function debFileName(pkg: KernelPackage): string {
  // apt-get download encodes ':' in versions as %3a
  return `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}_amd64.deb`;
}

/** The kernel .deb in the cache, downloaded with `apt-get download` when absent. */
export function ensureKernelDeb(
  cacheDir: string,
  log: (m: string) => void,
): { deb: string; pkg: KernelPackage } {
  const debDir = path.join(cacheDir, 'debs');
  fs.mkdirSync(debDir, { recursive: true });
  const wanted = resolveKernelPackage();
  if (wanted) {
    const deb = path.join(debDir, debFileName(wanted));
    if (!fs.existsSync(deb)) {
      log(`downloading ${wanted.name} ${wanted.version} (apt-get download)`);
      aptDownload(`${wanted.name}=${wanted.version}`, deb);
    }
    return { deb, pkg: wanted };
  }
  // apt's lists unavailable: use the newest kernel already cached.
  const cached = fs
    .readdirSync(debDir)
    .filter((f) => /^linux-image-.*-cloud-amd64_.*\.deb$/.test(f))
    .sort();
  const last = cached[cached.length - 1];
  if (!last) {
    throw new Error(
      `lab build: apt does not know ${KERNEL_META_PACKAGE} and no kernel is cached in ${debDir}. ` +
        'Run `sudo scripts/lab-deps.sh` (it runs apt-get update).',
    );
  }
  const [name, version] = last.replace(/_amd64\.deb$/, '').split('_');
  return {
    deb: path.join(debDir, last),
    pkg: { name: name ?? last, version: (version ?? '').replace(/%3a/g, ':') },
  };
}

/** Fetches one package's .deb to `deb` with `apt-get download`: nothing is installed on the host. */
export function aptDownload(spec: string, deb: string): void {
  const tmp = fs.mkdtempSync(path.join(path.dirname(deb), '.dl-'));
  try {
    // apt (as root) warns it cannot drop privileges to _apt for this dir; harmless.
    fs.chmodSync(tmp, 0o777);
    run('apt-get', ['download', '-q', spec], { cwd: tmp });
    const got = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!got) throw new Error(`lab build: apt-get download produced no .deb for ${spec}`);
    fs.renameSync(path.join(tmp, got), deb);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\nlab build: could not download ${spec}; ` +
        'run `sudo scripts/lab-deps.sh` (it runs apt-get update) and retry.',
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** `depends=` of a kernel module, read from its .modinfo strings. */
function moduleDepends(ko: Buffer): string[] {
  const needle = Buffer.from('\0depends=');
  const at = ko.indexOf(needle);
  if (at < 0) return [];
  const start = at + needle.length;
  const end = ko.indexOf(0, start);
  const value = ko.subarray(start, end).toString('latin1');
  return value ? value.split(',').filter(Boolean) : [];
}

function decompressModule(file: string): Buffer {
  if (file.endsWith('.ko')) return fs.readFileSync(file);
  if (file.endsWith('.ko.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 1 << 30 });
  if (file.endsWith('.ko.zst')) return execFileSync('zstd', ['-dcq', file], { maxBuffer: 1 << 30 });
  if (file.endsWith('.ko.gz')) return execFileSync('gzip', ['-dc', file], { maxBuffer: 1 << 30 });
  throw new Error(`lab build: unknown module format ${file}`);
}

export interface KernelParts {
  version: string;
  vmlinuz: string;
  /** Modules in load order: name and uncompressed content. */
  modules: { name: string; data: Buffer }[];
}

export function unpackKernel(deb: string, workDir: string, modules = MODULES): KernelParts {
  const root = path.join(workDir, 'kernel-deb');
  fs.mkdirSync(root, { recursive: true });
  run('dpkg', ['-x', deb, root]);
  const libModules = fs.existsSync(path.join(root, 'lib', 'modules'))
    ? path.join(root, 'lib', 'modules')
    : path.join(root, 'usr', 'lib', 'modules');
  const version = fs.readdirSync(libModules)[0];
  if (!version) throw new Error(`lab build: no modules in ${deb}`);
  const vmlinuz = path.join(root, 'boot', `vmlinuz-${version}`);
  if (!fs.existsSync(vmlinuz)) throw new Error(`lab build: no ${vmlinuz} in ${deb}`);

  // index every module file by its module name (dashes and underscores are equivalent)
  const norm = (n: string): string => n.replace(/-/g, '_');
  const byName = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(ent.name)) byName.set(norm(ent.name.replace(/\.ko.*$/, '')), p);
    }
  };
  walk(path.join(libModules, version, 'kernel'));
  const builtin = new Set(
    (fs.existsSync(path.join(libModules, version, 'modules.builtin'))
      ? fs.readFileSync(path.join(libModules, version, 'modules.builtin'), 'utf8').split('\n')
      : []
    )
      .filter(Boolean)
      .map((l) => norm(path.basename(l).replace(/\.ko.*$/, ''))),
  );

  const ordered: { name: string; data: Buffer }[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const n = norm(name);
    if (seen.has(n) || builtin.has(n)) return;
    if (chain.includes(n))
      throw new Error(`lab build: module dependency cycle ${[...chain, n].join(' -> ')}`);
    const file = byName.get(n);
    if (!file)
      throw new Error(
        `lab build: kernel ${version} has no module ${name} (needed by ${chain.join(' -> ') || 'lab'})`,
      );
    const data = decompressModule(file);
    for (const dep of moduleDepends(data)) visit(dep, [...chain, n]);
    seen.add(n);
    ordered.push({ name: n, data });
  };
  for (const m of modules) visit(m, []);
  return { version, vmlinuz, modules: ordered };
}

// ---------------------------------------------------------------------------------------
// host files

export interface HostFile {
  guestPath: string; // absolute
  hostPath: string;
  mode: number;
}

export interface Symlink {
  guestPath: string;
  target: string;
}

/** Shared libraries (and the dynamic loader) of a binary, per ldd. */
export function sharedLibraries(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  const out = `${r.stdout}\n${r.stderr}`;
  if (/not a dynamic executable|statically linked/.test(out)) return [];
  if (r.status !== 0) throw new Error(`lab build: ldd ${binary} failed: ${out.trim()}`);
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/=>\s*not found/.test(line)) throw new Error(`lab build: ${binary}: ${line.trim()}`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/**
 * Adds a host file at the same path in the guest, resolving symlinks: the content goes to
 * its real path, and each name on the way (e.g. libfoo.so.1 -> libfoo.so.1.2.3) becomes a
 * symlink. Top-level directory symlinks (/lib -> usr/lib) are mirrored separately.
 */
export function addHostPath(p: string, files: Map<string, HostFile>, links: Map<string, Symlink>): void {
  const real = fs.realpathSync(p);
  if (!files.has(real))
    files.set(real, { guestPath: real, hostPath: real, mode: fs.statSync(real).mode & 0o7777 });
  const asNamed = path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
  if (asNamed !== real && !links.has(asNamed)) {
    links.set(asNamed, { guestPath: asNamed, target: path.relative(path.dirname(asNamed), real) });
  }
}

// ---------------------------------------------------------------------------------------
// guest configuration files

const LVM_CONF = `# lvm.conf for the lvchain lab VM: no udev, so LVM makes its own /dev nodes.
config {
\tchecks = 1
\tabort_on_errors = 0
}
devices {
\tdir = "/dev"
\tscan = [ "/dev" ]
\tobtain_device_list_from_udev = 0
\texternal_device_info_source = "none"
\tuse_devicesfile = 0
\thints = "none"
\tfilter = [ "a|^/dev/vd[a-z]+$|", "r|.*|" ]
\tmd_component_detection = 0
\tmultipath_component_detection = 0
\tfw_raid_component_detection = 0
\tscan_lvs = 0
}
activation {
\tudev_sync = 0
\tudev_rules = 0
\tverify_udev_operations = 0
\tmonitoring = 0
\tpolling_interval = 1
}
global {
\tuse_lvmpolld = 0
\tevent_activation = 0
\tnotify_dbus = 0
\tsystem_id_source = "none"
\tlocking_dir = "/run/lock/lvm"
}
backup {
\tbackup = 1
\tbackup_dir = "/etc/lvm/backup"
\tarchive = 0
}
log {
\tverbose = 0
\tsyslog = 0
}
`;

const INIT = `#!/bin/sh
# /init of the lvchain lab VM (test/lab/build.ts)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t devtmpfs -o mode=0755 devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "lab-init: FATAL: $*"; sync; poweroff -f; sleep 5; }
echo "lab-init: start"
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || fail "mount /run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /run/lvm /run/lock/lvm /run/dropbear /var/log
ln -sf /proc/self/fd /dev/fd
hostname lab
for m in $(cat /etc/lab/modules); do
  insmod "/lib/modules/$m.ko" || fail "insmod $m"
done
dmsetup mknodes || fail "dmsetup mknodes"
[ -c /dev/mapper/control ] || fail "no /dev/mapper/control"
ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
chmod 0700 /root /root/.ssh
chmod 0600 /root/.ssh/authorized_keys /etc/dropbear/dropbear_ed25519_host_key
for d in /dev/vd?; do [ -b "$d" ] && echo "lab-init: disk $d $(cat /sys/block/\${d#/dev/}/size) sectors"; done
echo "lab-init: starting dropbear"
exec /sbin/init
`;

const INITTAB = `::respawn:/usr/sbin/dropbear -F -E -s -j -k -p 22 -W 1048576 -r /etc/dropbear/dropbear_ed25519_host_key
::ctrlaltdel:/sbin/poweroff -f
::shutdown:/bin/sync
`;

const PROFILE = `export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PS1='lab:\\w# '
`;

// ---------------------------------------------------------------------------------------
// cpio (newc) writer: no host cpio, no root needed for device nodes or ownership

export type Entry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; mode: number; major: number; minor: number };

export function cpioNewc(entries: Entry[]): Buffer {
  const chunks: Buffer[] = [];
  let ino = 1;
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const put = (name: string, mode: number, data: Buffer, rmaj = 0, rmin = 0): void => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8');
    const hex = (v: number): string => v.toString(16).padStart(8, '0');
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rmaj, rmin, nameBuf.length, 0];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1');
    chunks.push(header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        put(name, 0o040000 | e.mode, Buffer.alloc(0));
        break;
      case 'file':
        put(name, 0o100000 | e.mode, e.data);
        break;
      case 'symlink':
        put(name, 0o120777, Buffer.from(e.target, 'utf8'));
        break;
      case 'chardev':
        put(name, 0o020000 | e.mode, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  put('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------
// keys

function ensureClientKey(cacheDir: string): string {
  const key = path.join(cacheDir, 'id_ed25519');
  if (fs.existsSync(key) && fs.existsSync(`${key}.pub`)) return key;
  const tmp = fs.mkdtempSync(path.join(cacheDir, '.key-'));
  try {
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lvchain-lab', '-f', path.join(tmp, 'k')]);
    fs.renameSync(path.join(tmp, 'k.pub'), `${key}.pub`);
    fs.renameSync(path.join(tmp, 'k'), key);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.chmodSync(key, 0o600);
  return key;
}

function ensureHostKey(cacheDir: string): { keyFile: string; publicKey: string } {
  const keyFile = path.join(cacheDir, 'dropbear_ed25519_host_key');
  if (!fs.existsSync(keyFile)) {
    const tmp = `${keyFile}.${process.pid}.tmp`;
    fs.rmSync(tmp, { force: true });
    run(findTool('dropbearkey') ?? 'dropbearkey', ['-t', 'ed25519', '-f', tmp]);
    fs.renameSync(tmp, keyFile);
  }
  const out = run(findTool('dropbearkey') ?? 'dropbearkey', ['-y', '-f', keyFile]);
  const line = out.split('\n').find((l) => l.startsWith('ssh-ed25519 '));
  if (!line) throw new Error(`lab build: cannot read the public part of ${keyFile}`);
  const [type, b64] = line.split(/\s+/);
  return { keyFile, publicKey: `${type} ${b64}` };
}

// ---------------------------------------------------------------------------------------
// build

interface Plan {
  files: Map<string, HostFile>;
  links: Map<string, Symlink>;
  kernel: { deb: string; pkg: KernelPackage };
  clientKey: string;
  hostKey: { keyFile: string; publicKey: string };
  key: string;
}

function statSig(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

interface InputsStamp {
  key: string;
  binaries: string;
  stats: Record<string, string>;
}

function planBuild(cacheDir: string, log: (m: string) => void): Plan {
  // Phase A (cheap): which programs go in, the kernel, the keys.
  const binaries = new Map<string, HostFile>();
  const binDir = '/usr/bin';
  for (const name of GUEST_BINARIES) {
    const hostBin = findTool(name);
    if (!hostBin) throw new LabHostToolsMissing([{ tool: name, pkg: HOST_TOOLS[name] ?? '?' }]);
    const real = fs.realpathSync(hostBin);
    binaries.set(`${binDir}/${name}`, { guestPath: `${binDir}/${name}`, hostPath: real, mode: 0o755 });
  }
  for (const [pkg, only] of Object.entries(GUEST_PACKAGES)) {
    for (const [name, hostBin] of packagePrograms(pkg, only)) {
      const guestPath = `${binDir}/${name}`;
      if (binaries.has(guestPath)) continue;
      const real = fs.realpathSync(hostBin);
      binaries.set(guestPath, { guestPath, hostPath: real, mode: fs.statSync(real).mode & 0o7777 });
    }
  }
  const kernel = ensureKernelDeb(cacheDir, log);
  const clientKey = ensureClientKey(cacheDir);
  const hostKey = ensureHostKey(cacheDir);
  const binariesSig = [...binaries.values()].map((b) => `${b.guestPath}=${b.hostPath}:${b.mode}`).join('\n');
  const fixedInputs = [THIS_FILE, kernel.deb, `${clientKey}.pub`, hostKey.keyFile];

  // Phase B (ldd of every program, content hash of every file): skipped when no input
  // file changed (size, mtime, inode) since the last time.
  const files = new Map<string, HostFile>(binaries);
  const links = new Map<string, Symlink>();
  for (const b of binaries.values())
    for (const lib of sharedLibraries(b.hostPath)) addHostPath(lib, files, links);
  // stdbuf (coreutils) preloads it: lvchain line-buffers blkdiscard's progress with it, as on a Debian host.
  addHostPath(STDBUF_LIBRARY, files, links);
  addHostPath(QEMU_TCG_MODULE, files, links);
  for (const lib of sharedLibraries(QEMU_TCG_MODULE)) addHostPath(lib, files, links);

  const stampFile = path.join(cacheDir, 'inputs-stamp.json');
  const allInputs = [...new Set([...fixedInputs, ...[...files.values()].map((f) => f.hostPath)])];
  const h = createHash('sha256');
  h.update(fs.readFileSync(THIS_FILE));
  h.update(`\0kernel:${path.basename(kernel.deb)}:${fs.statSync(kernel.deb).size}`);
  h.update(`\0client:${fs.readFileSync(`${clientKey}.pub`, 'utf8')}`);
  h.update(`\0host:${fs.readFileSync(hostKey.keyFile).toString('base64')}`);
  for (const f of [...files.values()].sort((a, b) => a.guestPath.localeCompare(b.guestPath))) {
    h.update(`\0file:${f.guestPath}:${f.mode}:${sha256(fs.readFileSync(f.hostPath))}`);
  }
  for (const l of [...links.values()].sort((a, b) => a.guestPath.localeCompare(b.guestPath))) {
    h.update(`\0link:${l.guestPath}:${l.target}`);
  }
  const key = h.digest('hex').slice(0, 16);
  const stamp: InputsStamp = {
    key,
    binaries: binariesSig,
    stats: Object.fromEntries(allInputs.map((p) => [p, statSig(p)])),
  };
  fs.writeFileSync(stampFile, JSON.stringify(stamp));
  return { files, links, kernel, clientKey, hostKey, key };
}

/** The build key from the last full plan, if no input changed since; else undefined. */
function quickKey(cacheDir: string): string | undefined {
  const stampFile = path.join(cacheDir, 'inputs-stamp.json');
  let stamp: InputsStamp;
  try {
    stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as InputsStamp;
  } catch {
    return undefined;
  }
  const binDir = '/usr/bin';
  const parts: string[] = [];
  for (const name of GUEST_BINARIES) {
    const hostBin = findTool(name);
    if (!hostBin) return undefined;
    parts.push(`${binDir}/${name}=${fs.realpathSync(hostBin)}:${0o755}`);
  }
  const seen = new Set(GUEST_BINARIES);
  for (const [pkg, only] of Object.entries(GUEST_PACKAGES)) {
    let progs: Map<string, string>;
    try {
      progs = packagePrograms(pkg, only);
    } catch {
      return undefined;
    }
    for (const [name, hostBin] of progs) {
      if (seen.has(name)) continue;
      seen.add(name);
      const real = fs.realpathSync(hostBin);
      parts.push(`${binDir}/${name}=${real}:${fs.statSync(real).mode & 0o7777}`);
    }
  }
  if (parts.join('\n') !== stamp.binaries) return undefined;
  const wanted = resolveKernelPackage();
  if (wanted && !Object.keys(stamp.stats).some((p) => path.basename(p) === debFileName(wanted)))
    return undefined;
  for (const [p, sig] of Object.entries(stamp.stats)) if (statSig(p) !== sig) return undefined;
  return stamp.key;
}

export function busyboxApplets(busybox: string): string[] {
  return run(busybox, ['--list'])
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z0-9_.[\]-]+$/.test(s) && s !== 'busybox');
}

function lvmCommandNames(lvm: string): string[] {
  const dir = path.dirname(lvm);
  const found: string[] = [];
  try {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      try {
        if (fs.lstatSync(p).isSymbolicLink() && path.basename(fs.readlinkSync(p)) === 'lvm') found.push(name);
      } catch {
        /* ignore */
      }
    }
  } catch {
    /* ignore */
  }
  return [...new Set([...found, ...LVM_COMMANDS])].sort();
}

function assemble(plan: Plan, kernel: KernelParts): Entry[] {
  const entries = new Map<string, Entry>();
  const dirs = new Set<string>();
  const addDir = (p: string, mode = 0o755): void => {
    if (p === '/' || dirs.has(p) || entries.get(p)?.kind === 'symlink') return;
    addDir(path.dirname(p));
    dirs.add(p);
    entries.set(p, { kind: 'dir', path: p, mode });
  };
  const add = (e: Entry): void => {
    addDir(path.dirname(e.path));
    entries.set(e.path, e);
  };
  const text = (p: string, s: string, mode = 0o644): void =>
    add({ kind: 'file', path: p, mode, data: Buffer.from(s, 'utf8') });

  // Layout: everything executable lives in /usr/bin; the other bin dirs point there.
  // Library dirs mirror the host (usr-merged or not).
  addDir('/usr/bin');
  add({ kind: 'symlink', path: '/bin', target: 'usr/bin' });
  add({ kind: 'symlink', path: '/sbin', target: 'usr/bin' });
  add({ kind: 'symlink', path: '/usr/sbin', target: 'bin' });
  for (const top of ['/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      if (fs.lstatSync(top).isSymbolicLink())
        add({ kind: 'symlink', path: top, target: fs.readlinkSync(top) });
    } catch {
      /* absent on host */
    }
  }
  for (const d of [
    '/proc',
    '/sys',
    '/dev',
    '/run',
    '/tmp',
    '/mnt',
    '/var',
    '/etc/lvm/backup',
    '/etc/lvm/archive',
  ]) {
    addDir(d, d === '/tmp' ? 0o1777 : 0o755);
  }
  add({ kind: 'symlink', path: '/var/run', target: '../run' });
  add({ kind: 'symlink', path: '/var/lock', target: '../run/lock' });
  add({ kind: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 });
  add({ kind: 'chardev', path: '/dev/null', mode: 0o666, major: 1, minor: 3 });

  for (const f of plan.files.values()) {
    add({ kind: 'file', path: f.guestPath, mode: f.mode, data: fs.readFileSync(f.hostPath) });
  }
  for (const l of plan.links.values()) {
    if (!entries.has(l.guestPath)) add({ kind: 'symlink', path: l.guestPath, target: l.target });
  }
  add({ kind: 'symlink', path: '/usr/bin/sh', target: 'dash' });
  for (const name of lvmCommandNames(findTool('lvm') ?? '/sbin/lvm')) {
    if (!entries.has(`/usr/bin/${name}`)) add({ kind: 'symlink', path: `/usr/bin/${name}`, target: 'lvm' });
  }
  for (const applet of busyboxApplets(findTool('busybox') ?? '/bin/busybox')) {
    if (!entries.has(`/usr/bin/${applet}`))
      add({ kind: 'symlink', path: `/usr/bin/${applet}`, target: 'busybox' });
  }

  for (const m of kernel.modules)
    add({ kind: 'file', path: `/lib/modules/${m.name}.ko`, mode: 0o644, data: m.data });
  // (entries under a symlinked /lib are moved to the real path at the end)
  text('/etc/lab/modules', `${kernel.modules.map((m) => m.name).join('\n')}\n`);
  text('/etc/lab/kernel', `${kernel.version}\n`);

  text('/init', INIT, 0o755);
  text('/etc/inittab', INITTAB);
  text('/etc/profile', PROFILE);
  text('/etc/lvm/lvm.conf', LVM_CONF);
  text('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  text('/etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
  text('/etc/group', 'root:x:0:\ntty:x:5:\ndisk:x:6:\n');
  text('/etc/shells', '/bin/sh\n/bin/dash\n/bin/ash\n');
  text('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n');
  text('/etc/hosts', '127.0.0.1 localhost lab\n');
  text('/etc/hostname', 'lab\n');
  text('/etc/motd', '');
  addDir('/root', 0o700);
  addDir('/root/.ssh', 0o700);
  text('/root/.ssh/authorized_keys', fs.readFileSync(`${plan.clientKey}.pub`, 'utf8'), 0o600);
  add({
    kind: 'file',
    path: '/etc/dropbear/dropbear_ed25519_host_key',
    mode: 0o600,
    data: fs.readFileSync(plan.hostKey.keyFile),
  });

  // Entries under a symlinked top dir (/lib -> usr/lib) must be stored at the real path.
  const symlinkDirs = [...entries.values()].filter(
    (e): e is Extract<Entry, { kind: 'symlink' }> => e.kind === 'symlink' && path.dirname(e.path) === '/',
  );
  const realPath = (p: string): string => {
    for (const s of symlinkDirs) {
      if (p.startsWith(`${s.path}/`)) return realPath(path.join('/', s.target, p.slice(s.path.length + 1)));
    }
    return p;
  };
  const out = new Map<string, Entry>();
  const outDirs = new Set<string>();
  const ensureDir = (p: string): void => {
    if (p === '/' || outDirs.has(p)) return;
    ensureDir(path.dirname(p));
    outDirs.add(p);
    if (!out.has(p)) out.set(p, { kind: 'dir', path: p, mode: 0o755 });
  };
  for (const e of entries.values()) {
    const p = path.dirname(e.path) === '/' ? e.path : realPath(e.path);
    if (e.kind === 'dir') {
      if (symlinkDirs.some((s) => s.path === p)) continue;
      ensureDir(path.dirname(p));
      outDirs.add(p);
      out.set(p, { ...e, path: p });
    } else {
      ensureDir(path.dirname(p));
      out.set(p, { ...e, path: p });
    }
  }
  return [...out.values()];
}

export function buildLab(opts: BuildOptions = {}): LabArtifacts {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[lab] ${m}\n`));
  assertHostTools();
  const cacheDir = labCacheDir();
  fs.mkdirSync(cacheDir, { recursive: true });
  return withLock(path.join(cacheDir, 'build.lock'), 10 * 60_000, () => {
    const quick = opts.force ? undefined : quickKey(cacheDir);
    const quickManifest = quick && path.join(cacheDir, `build-${quick}`, 'manifest.json');
    if (quickManifest && fs.existsSync(quickManifest)) {
      return locatedIn(cacheDir, JSON.parse(fs.readFileSync(quickManifest, 'utf8')) as LabArtifacts);
    }
    const plan = planBuild(cacheDir, log);
    const buildDir = path.join(cacheDir, `build-${plan.key}`);
    const manifestFile = path.join(buildDir, 'manifest.json');
    if (!opts.force && fs.existsSync(manifestFile)) {
      return locatedIn(cacheDir, JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as LabArtifacts);
    }
    const t0 = Date.now();
    log(`building lab VM image ${plan.key} in ${cacheDir}`);
    const work = fs.mkdtempSync(path.join(cacheDir, '.build-'));
    try {
      const kernel = unpackKernel(plan.kernel.deb, work);
      const entries = assemble(plan, kernel);
      const cpio = cpioNewc(entries);
      const stage = path.join(work, 'out');
      fs.mkdirSync(stage);
      fs.copyFileSync(kernel.vmlinuz, path.join(stage, 'vmlinuz'));
      fs.writeFileSync(path.join(stage, 'initrd.cpio.gz'), gzipSync(cpio, { level: 6 }));
      const artifacts: LabArtifacts = {
        cacheDir,
        buildDir,
        key: plan.key,
        kernel: path.join(buildDir, 'vmlinuz'),
        initrd: path.join(buildDir, 'initrd.cpio.gz'),
        kernelVersion: kernel.version,
        kernelPackage: `${plan.kernel.pkg.name}=${plan.kernel.pkg.version}`,
        identityFile: plan.clientKey,
        hostPublicKey: plan.hostKey.publicKey,
      };
      fs.writeFileSync(path.join(stage, 'manifest.json'), `${JSON.stringify(artifacts, null, 2)}\n`);
      fs.rmSync(buildDir, { recursive: true, force: true });
      fs.renameSync(stage, buildDir);
      // drop older builds
      for (const d of fs.readdirSync(cacheDir)) {
        if (d.startsWith('build-') && d !== path.basename(buildDir)) {
          fs.rmSync(path.join(cacheDir, d), { recursive: true, force: true });
        }
      }
      log(
        `built in ${((Date.now() - t0) / 1000).toFixed(1)} s: kernel ${kernel.version}, ` +
          `initrd ${(cpio.length / 2 ** 20).toFixed(1)} MiB (${(fs.statSync(artifacts.initrd).size / 2 ** 20).toFixed(1)} MiB gz), ` +
          `modules ${kernel.modules.map((m) => m.name).join(' ')}`,
      );
      return artifacts;
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === THIS_FILE) {
  const a = buildLab({ force: process.argv.includes('--force') });
  process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
}
