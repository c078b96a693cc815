/**
 * GitLab's Terraform report from a real plan with 3 creates, 1 update and
 * 2 deletes, written by `plan --gitlab-report`, is exactly {"create":3,"update":1,"delete":2}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { gitlabReport } from '../../src/render/gitlab.js';
import { Workspace } from './helpers/workspace.js';

describe('GitLab Terraform report', () => {
  let ws: Workspace;
  beforeAll(async () => {
    requireTool('qemu-img', 'qemu-utils');
    ws = await Workspace.create();
  });
  afterAll(async () => ws?.dispose());

  it('counts 3 creates, 1 update and 2 deletes of a real plan', async () => {
    await ws.writeConfig(`disks:
  vm-300-disk-0:
    storage: lab
    size: 64MiB
    snapshots: { s1: {}, s2: {} }
  vm-301-disk-0: { storage: lab, size: 32MiB }
`);
    await ws.apply();
    // Unpin s1 and s2 (2 deletes), grow vm-301 (1 update), pin s3 on it and add two disks (3 creates).
    await ws.writeConfig(`disks:
  vm-300-disk-0: { storage: lab, size: 64MiB }
  vm-301-disk-0:
    storage: lab
    size: 48MiB
    snapshots: { s3: {} }
  vm-302-disk-0: { storage: lab, size: 32MiB }
  vm-303-disk-0: { storage: lab, size: 32MiB }
`);
    const { plan, result } = await ws.plan(['--gitlab-report', 'report.json']);
    // GitLab counts actions as its jq recipe does; the text counts the two unpins as merges.
    expect(result.stdout).toMatch(
      /^Plan: 3 to add, 1 to change, 0 to destroy; 2 snapshots to merge away \(.* to copy\)\.$/m,
    );
    const text = await readFile(join(ws.dir, 'report.json'), 'utf8');
    expect(text).toBe('{"create":3,"update":1,"delete":2}\n');
    expect(gitlabReport(plan)).toEqual({ create: 3, update: 1, delete: 2 });
  });

  it('counts no changes as zeros, which GitLab shows as "no changes"', async () => {
    await ws.apply();
    const { result } = await ws.plan(['--gitlab-report', 'report.json']);
    expect(result.stdout).toContain('No changes.');
    expect(await readFile(join(ws.dir, 'report.json'), 'utf8')).toBe('{"create":0,"update":0,"delete":0}\n');
  });
});
