import readline from 'node:readline/promises';
import { CliError } from './errors.js';

/** Asks for missing values on a terminal; without one, says which flags are missing instead. */
export class Prompter {
  private rl: readline.Interface | undefined;

  constructor(private readonly interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)) {}

  async ask(question: string, options: { flag: string; defaultValue?: string; secret?: boolean; validate?: (v: string) => string | null }): Promise<string> {
    if (!this.interactive) {
      if (options.defaultValue !== undefined) return options.defaultValue;
      throw new CliError(`missing ${options.flag} (no terminal to ask on)`, 2);
    }
    this.rl ??= readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    for (;;) {
      const suffix = options.defaultValue ? ` [${options.defaultValue}]` : '';
      const answer = options.secret ? await this.askHidden(`${question}${suffix}: `) : await this.rl.question(`${question}${suffix}: `);
      const value = answer.trim() || options.defaultValue || '';
      const problem = options.validate ? options.validate(value) : value ? null : 'a value is needed';
      if (!problem) return value;
      process.stdout.write(`  ${problem}\n`);
    }
  }

  private async askHidden(question: string): Promise<string> {
    const rl = this.rl!;
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    const original = output._writeToOutput;
    process.stdout.write(question);
    output._writeToOutput = () => {};
    try {
      return await rl.question('');
    } finally {
      output._writeToOutput = original;
      process.stdout.write('\n');
    }
  }

  close(): void {
    this.rl?.close();
  }
}
