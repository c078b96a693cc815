/** `mergeRate` of storages and `mergeWindow` of policies: what the config accepts, and its errors. */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { configIssues } from '../../helpers/config-issues.js';
import { mergeWindowAt, parseMergeWindow } from '../../../src/policy/merge-window.js';

const FILE = '/etc/lvchain/lvchain.yaml';

const config = (rate: string, window: string) => `version: 1
volumeGroups:
  vg0: { mergeRate: ${rate} }
directories:
  lab: { path: /srv/lab, mergeRate: ${rate} }
policies:
  nightly:
    timezone: Europe/Berlin
    schedule: "0 * * * *"
    retention: { last: 3 }
    mergeWindow: ${window}
`;

const issues = (text: string) => configIssues(text, FILE);

describe('mergeRate and mergeWindow', () => {
  it('reads a rate as bytes per second, with or without /s, and a window in minutes of the day', () => {
    const { desired } = loadConfigText(config('50MiB/s', '"22:30-04:00"'), FILE);
    expect(desired.storages.vg0).toMatchObject({ mergeRate: 50 * 1024 * 1024 });
    expect(desired.storages.lab).toMatchObject({ mergeRate: 50 * 1024 * 1024 });
    expect(desired.policies.nightly?.mergeWindow).toEqual({
      start: 22 * 60 + 30,
      end: 4 * 60,
      text: '22:30-04:00',
    });
    const plain = loadConfigText(config('512KiB', '"01:00-05:00"'), FILE).desired;
    expect(plain.storages.lab).toMatchObject({ mergeRate: 512 * 1024 });
  });

  it('says what is wrong with a rate or a window, and where', () => {
    expect(issues(config('fast', '"01:00-05:00"'))).toEqual([
      {
        path: 'volumeGroups.vg0.mergeRate',
        line: 3,
        message: expect.stringContaining('e.g. 50MiB/s') as string,
      },
      {
        path: 'directories.lab.mergeRate',
        line: 5,
        message: expect.stringContaining('e.g. 50MiB/s') as string,
      },
    ]);
    expect(issues(config('0MiB/s', '"01:00-05:00"'))[0]?.message).toContain('above zero');
    const [late] = issues(config('1MiB/s', '"25:00-05:00"'));
    expect(late).toMatchObject({ path: 'policies.nightly.mergeWindow', line: 11 });
    expect(late?.message).toContain('write start-end in 24-hour time, e.g. "01:00-05:00"');
    expect(issues(config('1MiB/s', '"03:00-03:00"'))[0]?.message).toContain(
      'start and end are the same time',
    );
  });
});

describe('a merge window', () => {
  const at = (iso: string, w: string, zone: string) =>
    mergeWindowAt(parseMergeWindow(w) ?? { start: 0, end: 0, text: 'unparsed' }, Date.parse(iso), zone);

  it('is open from its start to just before its end, in its own time zone', () => {
    // 01:00 UTC is 02:00 in Berlin in winter.
    expect(at('2026-12-05T00:59:00Z', '02:00-05:00', 'Europe/Berlin')).toEqual({
      open: false,
      localClock: '01:59',
    });
    expect(at('2026-12-05T01:00:00Z', '02:00-05:00', 'Europe/Berlin')).toEqual({
      open: true,
      localClock: '02:00',
    });
    expect(at('2026-12-05T03:59:00Z', '02:00-05:00', 'Europe/Berlin').open).toBe(true);
    expect(at('2026-12-05T04:00:00Z', '02:00-05:00', 'Europe/Berlin').open).toBe(false);
    // Summer time moves it by an hour against UTC.
    expect(at('2026-07-05T00:30:00Z', '02:00-05:00', 'Europe/Berlin').open).toBe(true);
  });

  it('crosses midnight', () => {
    expect(at('2026-12-05T23:00:00Z', '22:00-04:00', 'UTC').open).toBe(true);
    expect(at('2026-12-05T03:59:00Z', '22:00-04:00', 'UTC').open).toBe(true);
    expect(at('2026-12-05T12:00:00Z', '22:00-04:00', 'UTC').open).toBe(false);
  });
});
