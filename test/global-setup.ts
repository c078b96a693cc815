/** Integration tests run the real CLI: build it once per test run. */
import { execa } from 'execa';

export default async function setup(): Promise<void> {
  await execa('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
