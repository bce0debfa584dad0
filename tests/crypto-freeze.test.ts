import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Node 20 holds a key's lock while it builds a JWK export of it, and a garbage collection at that
 * moment may destroy the job that generated the key, which takes the same lock: the process waits
 * on itself forever. A site froze that way in CI (a relay making one-time X25519 keys for every
 * envelope); a loop of generate-then-export froze in 6,000 to 18,000 rounds here. nodeX25519
 * takes its one-time public key from the generating call instead, and this runs that loop in a
 * process with the sites' small young generation, where garbage collections come often.
 */
describe('one-time X25519 keys from node:crypto', { timeout: 180_000 }, () => {
  it('20,000 in a row never freeze the process', async () => {
    const script = `
      import { nodeX25519 } from '@hearth/protocol/node';
      const peer = nodeX25519.generate().publicKey;
      const junk = [];
      for (let i = 0; i < 20000; i++) {
        const once = nodeX25519.generate();
        once.sharedSecret(peer);
        junk.push({ i }); if (junk.length > 2000) junk.length = 0;
      }
      console.log('done');`;
    const child = spawn(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const froze = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(froze);
    expect(out.trim(), 'the process froze (or failed) while making one-time keys').toBe('done');
    expect(code).toBe(0);
  });
});
