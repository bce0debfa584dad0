import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });

/**
 * A small network of its own for a test: a network namespace joined to this host by a veth pair
 * (a /30 in 10.77.0.0/16), with a default route back to the host. Needs root (CAP_NET_ADMIN).
 */
export class TestNetwork {
  readonly name: string;
  readonly hostIf: string;
  readonly hostIp: string;
  readonly innerIp: string;

  private constructor(label: string, options: { publicRange?: boolean } = {}) {
    if (process.getuid?.() !== 0) throw new Error('this test builds network namespaces: run the tests as root (CAP_NET_ADMIN), as CI does');
    const suffix = crypto.randomBytes(3).toString('hex');
    this.name = `hearth-${label}-${suffix}`;
    this.hostIf = `h${label.slice(0, 4)}${suffix}`;
    const innerIf = `n${label.slice(0, 4)}${suffix}`;
    // A random /30 per network, so parallel runs and several networks in one test do not collide.
    const n = crypto.randomInt(0, 16384) * 4;
    // publicRange: an address outside every private and special range (11.77.0.0/16 is nobody's
    // on this machine), so a site's SSRF guard treats the network as the internet.
    const base = `${options.publicRange ? '11.77' : '10.77'}.${Math.floor(n / 256)}.`;
    this.hostIp = `${base}${(n % 256) + 1}`;
    this.innerIp = `${base}${(n % 256) + 2}`;
    sh('ip', 'netns', 'add', this.name);
    sh('ip', 'link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', innerIf);
    sh('ip', 'link', 'set', innerIf, 'netns', this.name);
    sh('ip', 'addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf);
    sh('ip', 'link', 'set', this.hostIf, 'up');
    this.exec('ip', 'addr', 'add', `${this.innerIp}/30`, 'dev', innerIf);
    this.exec('ip', 'link', 'set', innerIf, 'up');
    this.exec('ip', 'link', 'set', 'lo', 'up');
    this.exec('ip', 'route', 'add', 'default', 'via', this.hostIp);
  }

  static create(label: string, options: { publicRange?: boolean } = {}): TestNetwork {
    return new TestNetwork(label, options);
  }

  /** Programs inside this network resolve names with this DNS server (ip netns exec mounts /etc/netns/NAME/resolv.conf). */
  useNameserver(ip: string): void {
    fs.mkdirSync(`/etc/netns/${this.name}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${this.name}/resolv.conf`, `nameserver ${ip}\n`);
  }

  get subnet(): string {
    return `${this.hostIp.replace(/\.\d+$/, '')}.${Number(this.hostIp.split('.')[3]) - 1}/30`;
  }

  exec(...args: string[]): Buffer {
    return sh('ip', 'netns', 'exec', this.name, ...args);
  }

  /** The command prefix that runs a program inside this network. */
  get prefix(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** A home router's firewall: replies to connections made from inside come in, nothing else does. */
  dropInbound(): void {
    this.exec('iptables', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
    this.exec('iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    this.exec('iptables', '-P', 'INPUT', 'DROP');
  }

  /** An executable that starts Chromium inside this network (for playwright's executablePath). */
  chromiumWrapper(chromium = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium'): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-netns-')), 'chromium');
    fs.writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${this.name} ${chromium} "$@"\n`, { mode: 0o755 });
    return file;
  }

  destroy(): void {
    fs.rmSync(`/etc/netns/${this.name}`, { recursive: true, force: true });
    for (const command of [['ip', 'netns', 'del', this.name], ['ip', 'link', 'del', this.hostIf]]) {
      try {
        sh(...command);
      } catch {
        /* already gone */
      }
    }
  }
}

/** Drops UDP between two test networks on this host (both ways), whatever the host's forwarding. Returns the undo. */
export function dropUdpBetween(a: TestNetwork, b: TestNetwork): () => void {
  return dropBetween(a, b, ['-p', 'udp']);
}

/** Drops packets (of a protocol, or all) between two test networks, both ways, ahead of any ACCEPT. Returns the undo. */
function dropBetween(a: TestNetwork, b: TestNetwork, match: string[] = []): () => void {
  const rules = [
    ['-s', a.subnet, '-d', b.subnet],
    ['-s', b.subnet, '-d', a.subnet],
  ].map((r) => [...r, ...match, '-j', 'DROP']);
  for (const rule of rules) sh('iptables', '-I', 'FORWARD', ...rule);
  return () => {
    for (const rule of rules) {
      try {
        sh('iptables', '-D', 'FORWARD', ...rule);
      } catch {
        /* already gone */
      }
    }
  };
}

/**
 * Lets the test networks reach each other through this host (IP forwarding on, and an explicit
 * ACCEPT in case the host's FORWARD policy drops). Returns the undo, which restores the host.
 */
export function routeBetweenNetworks(): () => void {
  const before = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const rule = ['-s', '10.77.0.0/16', '-d', '10.77.0.0/16', '-j', 'ACCEPT'];
  sh('iptables', '-A', 'FORWARD', ...rule);
  return () => {
    try {
      sh('iptables', '-D', 'FORWARD', ...rule);
    } catch {
      /* already gone */
    }
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', before);
  };
}

/** Drops everything between two test networks, both ways (a censor's firewall between them). Returns the undo, which lifts the block. */
export function blockBetween(a: TestNetwork, b: TestNetwork): () => void {
  return dropBetween(a, b);
}
