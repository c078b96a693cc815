/** Tests that need a host tool fail with a clear message when it is missing; they never skip. */
import { execaSync } from 'execa';

export function requireTool(tool: string, pkg: string): void {
  const r = execaSync('sh', ['-c', `command -v ${tool}`], { reject: false });
  if (r.exitCode !== 0) {
    throw new Error(
      `${tool} is not installed; this test needs it (Debian package ${pkg}). Run the README's test command, which installs it.`,
    );
  }
}
