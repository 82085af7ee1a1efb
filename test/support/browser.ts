/**
 * Headless Chromium for the browser tests: Debian's `chromium` (scripts/setup.sh installs it)
 * driven by playwright-core, which downloads no browser of its own.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Where screenshots go (gitignored): one folder per run is overwritten in place. */
export const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: run scripts/setup.sh (Debian package chromium)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    args: [
      // Chromium's sandbox refuses to start as root (CI containers run as root).
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // No calls home: this machine's network is closed and each refused call costs time.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A screenshot file under ARTIFACTS. */
export function artifact(name: string): string {
  return path.join(ARTIFACTS, name);
}
