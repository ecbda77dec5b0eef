import { execFileSync } from 'node:child_process';

/**
 * Whether a system binary is installed. Under CI=true a missing binary fails the test (CI must install it);
 * elsewhere the test is skipped with a loud line saying what to install. Never a silent skip.
 */
export function requireBinary(name: string, install: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${name} is required in CI but missing: ${install}`);
    console.warn(`\n!!! SKIPPED: ${name} is not installed. Install it to run this test: ${install}\n`);
    return false;
  }
}
