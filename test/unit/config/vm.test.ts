/** `vm:` of guests and disks (DESIGN §12): what the config accepts, its defaults and its errors. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/base/errors.js';
import { loadConfigText } from '../../../src/config/load.js';

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

function issues(text: string): { path: string; line: number; message: string }[] {
  try {
    loadConfigText(text, FILE);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => ({ path: i.path, line: i.location.line, message: i.message }));
  }
  throw new Error('expected a ConfigError');
}

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
});
