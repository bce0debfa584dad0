import readline from 'node:readline';
import { CliError } from './errors.js';

/**
 * Asks for missing values on a terminal; without one, says which flags are missing instead.
 * Lines are queued as they arrive, so answers typed or pasted ahead of their question are kept.
 */
export class Prompter {
  private rl: readline.Interface | undefined;
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | undefined;
  private ended = false;
  private muted = false;

  constructor(private readonly interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)) {}

  async ask(question: string, options: { flag: string; defaultValue?: string; secret?: boolean; validate?: (v: string) => string | null }): Promise<string> {
    if (!this.interactive) {
      if (options.defaultValue !== undefined) return options.defaultValue;
      throw new CliError(`missing ${options.flag} (no terminal to ask on; pass it as a flag)`, 2);
    }
    this.open();
    for (;;) {
      const suffix = options.defaultValue ? ` [${options.defaultValue}]` : '';
      process.stdout.write(`${question}${suffix}: `);
      this.muted = Boolean(options.secret);
      const line = await this.nextLine();
      this.muted = false;
      if (options.secret) process.stdout.write('\n');
      if (line === null) throw new CliError('input ended before every question was answered', 2);
      const value = line.trim() || options.defaultValue || '';
      const problem = options.validate ? options.validate(value) : value ? null : 'a value is needed';
      if (!problem) return value;
      process.stdout.write(`  ${problem}\n`);
    }
  }

  private open(): void {
    if (this.rl) return;
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    // Passwords are not echoed: readline writes what is typed through _writeToOutput.
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    const write = output._writeToOutput.bind(rl);
    output._writeToOutput = (text: string) => {
      if (!this.muted) write(text);
    };
    rl.on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else this.lines.push(line);
    });
    rl.on('close', () => {
      this.ended = true;
      this.waiting?.(null);
      this.waiting = undefined;
    });
    this.rl = rl;
  }

  private nextLine(): Promise<string | null> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.rl?.close();
  }
}
