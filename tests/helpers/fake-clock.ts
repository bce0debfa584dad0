import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './sites.js';

/** Debian's libfaketime (package faketime), preloaded into a site process to move its wall clock. */
export const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((f) => fs.existsSync(f));

/**
 * A wall clock a test can move while the site runs: an offset from real time such as "+20m",
 * "-2h" or "+8d", read by libfaketime at every call. The monotonic clock stays real, as it does
 * when a real wall clock is stepped.
 */
export class FakeClock {
  private readonly file = path.join(tempDir('clock'), 'faketime');

  constructor(offset = '+0') {
    if (!LIBFAKETIME) throw new Error('libfaketime is missing: apt-get install faketime');
    this.set(offset);
  }

  get env(): Record<string, string> {
    return { LD_PRELOAD: LIBFAKETIME!, FAKETIME_TIMESTAMP_FILE: this.file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  }

  set(offset: string): void {
    fs.writeFileSync(this.file, `${offset}\n`);
  }
}
