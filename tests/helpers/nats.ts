import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { endProcess, freePort, waitFor } from './sites.js';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'];

/** Debian's nats-server on a free loopback port, started and stopped by the test (and restarted, for the fault tests). */
export class TestNats {
  private proc: ChildProcess | undefined;
  log = '';

  private constructor(readonly port: number, private readonly bin: string) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestNats> {
    const fs = await import('node:fs');
    const bin = NATS_SERVER.find((file) => fs.existsSync(file));
    if (!bin) throw new Error('nats-server is not installed: run "sudo apt-get install nats-server"');
    const nats = new TestNats(await freePort(), bin);
    await nats.run();
    return nats;
  }

  async run(): Promise<void> {
    const proc = spawn(this.bin, ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await waitFor(`nats-server on ${this.port}`, () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited: ${this.log}`);
        const socket = net.connect(this.port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await endProcess(this.proc, signal);
    this.proc = undefined;
  }
}
