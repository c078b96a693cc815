/** `vm:` of guests and disks (DESIGN §12): what the config accepts, its defaults and its errors. */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { configIssues } from '../../helpers/config-issues.js';

const FILE = '/etc/lvchain/lvchain.yaml';

const config = (vm: string, at: 'guest' | 'disk' = 'guest') =>
  at === 'guest'
    ? `version: 1
directories:
  lab: { path: /srv/lab }
guests:
  web:
    storage: lab
    disks:
      vm-101-disk-0: { size: 1GiB }
      vm-101-disk-1: { size: 1GiB }
${vm}
`
    : `version: 1
directories:
  lab: { path: /srv/lab }
disks:
  vm-102-disk-0:
    storage: lab
    size: 1GiB
${vm}
`;

const issues = (text: string) => configIssues(text, FILE);

describe('vm:', () => {
  it("gives every disk of a guest the guest's VM, with freeze defaulting to try", () => {
    const { desired } = loadConfigText(
      config('    vm: { qmp: /run/qemu/101.qmp, agent: /run/qemu/101.qga }'),
      FILE,
    );
    for (const d of ['vm-101-disk-0', 'vm-101-disk-1'])
      expect(desired.disks[d]?.vm).toEqual({
        qmp: '/run/qemu/101.qmp',
        agent: '/run/qemu/101.qga',
        freeze: 'try',
      });
    expect(desired.guests.web?.vm?.freeze).toBe('try');
  });

  it('takes a standalone disk its own VM', () => {
    const { desired } = loadConfigText(config('    vm: { qmp: /run/q.sock, freeze: off }', 'disk'), FILE);
    expect(desired.disks['vm-102-disk-0']?.vm).toEqual({ qmp: '/run/q.sock', freeze: 'off' });
  });

  it('refuses freeze: required without an agent, at the freeze key', () => {
    expect(issues(config('    vm: { qmp: /run/q.sock, freeze: required }'))).toEqual([
      {
        path: 'guests.web.vm.freeze',
        line: 10,
        message: 'freeze: required needs the guest agent socket; add vm.agent, or use freeze: try',
      },
    ]);
  });

  it('refuses a relative socket path and an unknown freeze mode, each where it is', () => {
    const found = issues(config('    vm: { qmp: run/q.sock, freeze: always }'));
    expect(found.map((f) => f.path).sort()).toEqual(['guests.web.vm.freeze', 'guests.web.vm.qmp']);
    expect(found.find((f) => f.path.endsWith('qmp'))?.message).toContain(
      '"run/q.sock" is not an absolute path',
    );
    expect(found.find((f) => f.path.endsWith('freeze'))?.message).toContain('required, try or off');
  });

  it('takes a Proxmox VE VM by its VMID instead of a socket, for every disk of the guest', () => {
    const { desired } = loadConfigText(config('    vm: { proxmox: 101 }'), FILE);
    expect(desired.guests.web?.proxmoxVm).toBe(101);
    expect(desired.guests.web?.vm).toBeUndefined();
    for (const d of ['vm-101-disk-0', 'vm-101-disk-1']) {
      expect(desired.disks[d]?.proxmoxVm).toBe(101);
      expect(desired.disks[d]?.vm).toBeUndefined();
    }
  });

  it('reports the mistake of the form that was meant, at its key', () => {
    expect(issues(config('    vm: { proxmox: "101" }'))).toEqual([
      {
        path: 'guests.web.vm.proxmox',
        line: 10,
        message: 'must be a VMID, a whole number such as 101, not the string "101"',
      },
    ]);
    expect(issues(config('    vm: { proxmox: 42 }', 'disk'))[0]?.message).toBe(
      'must be a VMID; Proxmox VMIDs go from 100 to 999999999',
    );
    expect(issues(config('    vm: { qmp: run/q.sock }'))[0]).toMatchObject({ path: 'guests.web.vm.qmp' });
    expect(issues(config('    vm: { proxmx: 101 }'))[0]?.message).toBe(
      'unknown key "proxmx"; did you mean "proxmox"?',
    );
  });

  it('refuses both forms at once, and neither', () => {
    const both = issues(config('    vm: { qmp: /run/q.sock, proxmox: 101 }'));
    expect(both).toEqual([
      {
        path: 'guests.web.vm',
        line: 10,
        message:
          'needs either qmp (with optionally agent and freeze) for a VM lvchain reaches itself, or proxmox: <vmid> for a Proxmox VE VM, not both',
      },
    ]);
    expect(issues(config('    vm: 101'))[0]?.message).toBe(
      'must be a map with qmp: <socket> or proxmox: <vmid>, not 101',
    );
  });
});

describe('hosts.<h>.proxmox', () => {
  const hosts = (proxmox: string) => `version: 1
hosts:
  pve1:
    ssh: root@pve1
${proxmox}
volumeGroups:
  vg_san1: { host: pve1 }
`;

  it('detects a node when silent, takes a declared root (default /etc/pve), and can be switched off', () => {
    const host = (text: string) => loadConfigText(hosts(text), FILE).desired.hosts.pve1?.proxmox;
    expect(host('')).toEqual({ kind: 'detect' });
    expect(host('    proxmox: {}')).toEqual({ kind: 'declared', root: '/etc/pve' });
    expect(host('    proxmox: { root: /srv/pve }')).toEqual({ kind: 'declared', root: '/srv/pve' });
    expect(host('    proxmox: false')).toEqual({ kind: 'off' });
    expect(host('    proxmox: { node: pve1 }')).toEqual({ kind: 'declared', root: '/etc/pve', node: 'pve1' });
  });

  it('refuses a node name Proxmox would not have', () => {
    expect(issues(hosts('    proxmox: { node: "pve 1" }'))).toEqual([
      {
        path: 'hosts.pve1.proxmox.node',
        line: 5,
        message: '"pve 1" is not a Proxmox node name; write a name such as pve2',
      },
    ]);
  });

  it('refuses a relative root and a true', () => {
    expect(issues(hosts('    proxmox: { root: etc/pve }'))).toEqual([
      {
        path: 'hosts.pve1.proxmox.root',
        line: 5,
        message: '"etc/pve" is not an absolute path; write a path such as /etc/pve',
      },
    ]);
    expect(issues(hosts('    proxmox: true'))[0]?.message).toBe(
      'must be {} (or { root: /etc/pve }) for a Proxmox VE node, or false for a host that is not one, not true',
    );
  });
});
