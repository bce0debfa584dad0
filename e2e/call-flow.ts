import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * The figures on the call screen, which the page reads from its own getStats once a second. They
 * sit behind "Connection details" (closed unless opened), so their text is read, not their look.
 */
export async function callStats(page: Page): Promise<{ path: string; audioKB: number; frames: number } | undefined> {
  const text = ((await page.locator('.call-stats').textContent({ timeout: 2_000 }).catch(() => '')) ?? '').replace(/\s+/g, ' ');
  const match = /Path: (.+) · received ([\d,]+) kB of audio, (\d+) video frames/.exec(text);
  return match ? { path: match[1]!, audioKB: Number(match[2]!.replace(/,/g, '')), frames: Number(match[3]) } : undefined;
}

/** The caller opens the conversation and starts a video call; the callee, on another page, answers. */
export async function placeVideoCall(caller: { page: Page; url: string }, callee: { page: Page; url: string; address: string }, callerAddress: string, alsoRinging: Page[] = []): Promise<void> {
  await callee.page.goto(`${callee.url}/home`);
  await caller.page.goto(`${caller.url}/messages`);
  await caller.page.getByPlaceholder('Message someone: name@example.com').fill(callee.address);
  await caller.page.getByRole('button', { name: 'Open' }).click();
  await caller.page.getByRole('button', { name: 'Video call' }).click();
  const incoming = callee.page.getByRole('dialog', { name: `Incoming video call from ${callerAddress}` });
  await expect.poll(() => incoming.count(), { timeout: 20_000 }).toBe(1);
  // The callee's other open devices ring too.
  for (const page of alsoRinging) await expect.poll(() => page.getByRole('dialog', { name: `Incoming video call from ${callerAddress}` }).count(), { timeout: 20_000 }).toBe(1);
  await incoming.getByRole('button', { name: 'Answer' }).click();
}

/**
 * Waits for `done` while `progress` keeps changing: it fails only when nothing has moved for
 * `stallMs` (or after `maxMs` in all). A loaded machine makes things slower, not different, so
 * tests wait on progress instead of a fixed deadline.
 */
export async function waitWhileProgressing<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, options: { stallMs?: number; maxMs?: number } = {}): Promise<T> {
  const stallMs = options.stallMs ?? 30_000;
  const deadline = Date.now() + (options.maxMs ?? 180_000);
  let last = JSON.stringify(await probe());
  let movedAt = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    const now = JSON.stringify(value);
    if (now !== last) {
      last = now;
      movedAt = Date.now();
    }
    if (Date.now() - movedAt > stallMs) throw new Error(`${what}: no progress for ${stallMs / 1000} s (last: ${now})`);
    if (Date.now() > deadline) throw new Error(`${what}: still not done after ${(options.maxMs ?? 180_000) / 1000} s (last: ${now})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * On each page: the path matches, and audio bytes and decoded video frames keep growing. While
 * the call is up and media flows, the path may still change (ICE may settle on a relay pair first
 * and move to a better one when its checks complete on a busy machine), so the wait goes on as
 * long as the call does; the paths seen are returned for the test log.
 */
export async function expectMediaFlowing(pages: Page[], path: RegExp): Promise<string[][]> {
  const seen: string[][] = [];
  for (const page of pages) {
    const paths: string[] = [];
    await waitWhileProgressing(
      `the call path to match ${path}`,
      async () => {
        const stats = await callStats(page);
        const current = stats?.path ?? '';
        if (current && current !== 'finding one…' && paths[paths.length - 1] !== current) paths.push(current);
        return stats ? { path: stats.path, frames: stats.frames } : null;
      },
      (stats) => stats !== null && path.test(stats.path),
      { stallMs: 30_000, maxMs: 120_000 },
    );
    seen.push(paths);
    const first = await callStats(page);
    await waitWhileProgressing('video frames', async () => (await callStats(page))?.frames ?? 0, (frames) => frames > first!.frames + 10);
    await waitWhileProgressing('audio', async () => (await callStats(page))?.audioKB ?? 0, (kb) => kb > first!.audioKB);
  }
  if (seen.some((paths) => paths.length > 1)) console.log(`call paths seen before settling: ${JSON.stringify(seen)}`);
  return seen;
}
