import fs from 'node:fs';
import path from 'node:path';

/**
 * A file that says a site (or a hosting service) is being served from this folder, by which
 * process. Starting it twice is refused, and so is moving its data while it runs
 * (`hearth migrate-storage`). After a crash the file stays, but names a process that is gone (or
 * a newer one with the same number, told apart by its start time), and is taken over.
 */
export const RUN_LOCK_FILE = 'running.pid';

interface LockContent {
  pid: number;
  /** The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart. */
  started?: string;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The process serving `dir`, if one is alive. */
export function runningProcess(dir: string): number | undefined {
  let lock: LockContent;
  try {
    lock = JSON.parse(fs.readFileSync(path.join(dir, RUN_LOCK_FILE), 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(lock.pid) || lock.pid <= 0) return undefined;
  try {
    process.kill(lock.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // no such process
  }
  const started = startTimeOf(lock.pid);
  if (lock.started && started && lock.started !== started) return undefined; // the number was reused
  return lock.pid;
}

/** Marks `dir` as served by this process; throws if another live process serves it. Returns the release. */
export function claimRunLock(dir: string, what: string): () => void {
  const other = runningProcess(dir);
  if (other !== undefined && other !== process.pid) throw new Error(`${what} in ${dir} is already running (process ${other}); stop it first`);
  const file = path.join(dir, RUN_LOCK_FILE);
  const content: LockContent = { pid: process.pid, ...(startTimeOf(process.pid) ? { started: startTimeOf(process.pid) } : {}) };
  fs.writeFileSync(file, JSON.stringify(content) + '\n', { mode: 0o600 });
  return () => {
    try {
      const now = JSON.parse(fs.readFileSync(file, 'utf8')) as LockContent;
      if (now.pid === process.pid) fs.rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  };
}
