import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** The figures on the call screen, which the page reads from its own getStats once a second. */
export async function callStats(page: Page): Promise<{ path: string; audioKB: number; frames: number } | undefined> {
  const text = await page.locator('.call-stats').innerText().catch(() => '');
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

/** On each page: the path matches, and audio bytes and decoded video frames keep growing. */
export async function expectMediaFlowing(pages: Page[], path: RegExp): Promise<void> {
  for (const page of pages) {
    await expect.poll(async () => (await callStats(page))?.path ?? '', { timeout: 30_000 }).toMatch(path);
    const first = await callStats(page);
    await expect.poll(async () => (await callStats(page))?.frames ?? 0, { timeout: 15_000 }).toBeGreaterThan(first!.frames + 10);
    await expect.poll(async () => (await callStats(page))?.audioKB ?? 0, { timeout: 15_000 }).toBeGreaterThan(first!.audioKB);
  }
}
