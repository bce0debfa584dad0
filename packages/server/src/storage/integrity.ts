import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from './db.js';

/**
 * How far the database had got, by counters that only grow: the sequence of every
 * AUTOINCREMENT table (outbox, DMs, notifications, the vault queue...), the last envelope id
 * recorded as seen, and the post sequence. Everything a site acknowledged is below these marks.
 */
export type Marks = Record<string, number>;

export async function readMarks(db: Db): Promise<Marks> {
  const marks: Marks = {};
  const sequences = await sql<{ name: string; seq: number }>`select name, seq from sqlite_sequence`.execute(db);
  for (const row of sequences.rows) marks[`sequence:${row.name}`] = Number(row.seq);
  const seen = await sql<{ n: number | null }>`select max(rowid) as n from inbox_seen`.execute(db);
  marks['inbox_seen'] = Number(seen.rows[0]?.n ?? 0);
  const posts = await db.selectFrom('site_meta').select('value').where('key', '=', 'post_seq').executeTakeFirst();
  marks['post_seq'] = Number(posts?.value ?? 0);
  return marks;
}

/** The marks that are lower in the database than they were recorded: writes the database lost. */
export function droppedMarks(recorded: Marks, now: Marks): Array<{ mark: string; recorded: number; now: number }> {
  return Object.entries(recorded)
    .filter(([mark, value]) => (now[mark] ?? 0) < value)
    .map(([mark, value]) => ({ mark, recorded: value, now: now[mark] ?? 0 }));
}

/**
 * A copy of the marks outside the database (DATA/ack-marks.json), written every few seconds,
 * so that at the next start a database that came back with less than it had acknowledged
 * (SQLite's recovery from a damaged write-ahead log drops the frames after the damage, silently)
 * is noticed and said.
 */
export class AckMarks {
  private last = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  static fileIn(dataDir: string): string {
    return path.join(dataDir, 'ack-marks.json');
  }

  /** At start: compare the database with the marks recorded before; true when nothing was lost. */
  async check(): Promise<boolean> {
    let recorded: Marks | undefined;
    try {
      recorded = (JSON.parse(fs.readFileSync(this.file, 'utf8')) as { marks: Marks }).marks;
    } catch {
      return true; // first start, or no marks yet
    }
    const dropped = droppedMarks(recorded, await readMarks(this.db));
    if (dropped.length === 0) return true;
    this.log.error(
      { dropped },
      `the database has fewer writes than this site had acknowledged (${dropped.map((d) => `${d.mark} was ${d.recorded}, is ${d.now}`).join('; ')}): its write-ahead log was damaged or lost, and SQLite's recovery dropped them. Restore from a backup if you have a newer one (docs/DEPLOY.md, "Recovery")`,
    );
    return false;
  }

  start(intervalMs = 5000): void {
    this.timer = setInterval(() => void this.save().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Writes the marks if they moved: to a new file, flushed, then renamed over the old one. */
  async save(): Promise<void> {
    const marks = await readMarks(this.db);
    const text = JSON.stringify({ marks });
    if (text === this.last) return;
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify({ marks, savedAt: new Date().toISOString() })}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.last = text;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.save().catch(() => undefined);
  }
}

/** SQLite's quick_check: null when the file is sound, else the first problems it reports. */
export async function quickCheck(db: Db): Promise<string | null> {
  const result = await sql<{ quick_check: string }>`pragma quick_check(5)`.execute(db);
  const lines = result.rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === 'ok' ? null : lines.join('; ');
}
