import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE, updateSiteConfigFile, type SiteConfig, type SiteConfigFile } from '../site-config.js';
import type { TurnSettings } from './turn-settings.js';

export type { TurnSettings } from './turn-settings.js';

export const DEFAULT_TURN_PORT = 3478;
/** Long enough for a long call (coturn checks the expiry again when an allocation is refreshed). */
export const TURN_CREDENTIAL_TTL_S = 4 * 60 * 60;

export function turnCredentials(secret: string, user: string, nowMs: number, ttlSeconds = TURN_CREDENTIAL_TTL_S): { username: string; credential: string; ttl: number } {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${user}`;
  const credential = crypto.createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, ttl: ttlSeconds };
}

/** The URLs browsers use: STUN and TURN on the site's own host, over UDP and TCP. */
export function turnUrls(host: string, port: number): string[] {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [`stun:${h}:${port}`, `turn:${h}:${port}?transport=udp`, `turn:${h}:${port}?transport=tcp`];
}

/** Adds TURN settings to hearth.json (a fresh secret the first time); returns them. */
export function ensureTurnSettings(config: SiteConfig, changes: Partial<Omit<TurnSettings, 'secret'>> = {}): TurnSettings {
  const current = (JSON.parse(fs.readFileSync(path.join(config.dataDir, CONFIG_FILE), 'utf8')) as SiteConfigFile).turn;
  const settings: TurnSettings = {
    secret: current?.secret ?? crypto.randomBytes(32).toString('base64url'),
    port: changes.port ?? current?.port ?? DEFAULT_TURN_PORT,
    minPort: changes.minPort ?? current?.minPort ?? 49152,
    maxPort: changes.maxPort ?? current?.maxPort ?? 65535,
    ...((changes.externalIp ?? current?.externalIp) ? { externalIp: changes.externalIp ?? current?.externalIp } : {}),
  };
  if (JSON.stringify(settings) !== JSON.stringify(current)) updateSiteConfigFile(config.dataDir, (raw) => ({ ...raw, turn: settings }));
  return settings;
}

// Private, loopback, link-local and other special ranges a public relay must never reach:
// without these lines a TURN server is an open door into the VPS's own network.
const DENIED_PEERS = [
  '0.0.0.0-0.255.255.255',
  '10.0.0.0-10.255.255.255',
  '100.64.0.0-100.127.255.255',
  '127.0.0.0-127.255.255.255',
  '169.254.0.0-169.254.255.255',
  '172.16.0.0-172.31.255.255',
  '192.0.0.0-192.0.0.255',
  '192.168.0.0-192.168.255.255',
  '198.18.0.0-198.19.255.255',
  '224.0.0.0-255.255.255.255',
  '::1',
  'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
];

function devAddress(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return /^[\d.]+$/.test(bare) || bare.includes(':') ? bare : '127.0.0.1';
}

/** coturn's configuration for this site (pure: the same settings give the same text). */
export function coturnConfig(config: Pick<SiteConfig, 'site' | 'dev' | 'dataDir'>, turn: TurnSettings): string {
  const lines = [
    '# Written by `hearth turn config` for Hearth. coturn reads it with: turnserver -c <this file>',
    `listening-port=${turn.port}`,
    // A local test site's relay lives on the site's own address (loopback, or a test network's).
    ...(config.dev ? [`listening-ip=${devAddress(config.site.host)}`, `relay-ip=${devAddress(config.site.host)}`] : []),
    ...(turn.externalIp ? [`external-ip=${turn.externalIp}`] : []),
    `min-port=${turn.minPort}`,
    `max-port=${turn.maxPort}`,
    'fingerprint',
    'use-auth-secret',
    `static-auth-secret=${turn.secret}`,
    `realm=${config.site.host}`,
    // Only TURN over UDP/TCP on one port: no TLS listener, no admin console, no multicast.
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-multicast-peers',
    'user-quota=12',
    'total-quota=1200',
    'stale-nonce=600',
    // A local test site relays between browsers on this machine; a public one never to private ranges.
    ...(config.dev ? ['allow-loopback-peers'] : DENIED_PEERS.map((range) => `denied-peer-ip=${range}`)),
    `pidfile=${path.join(config.dataDir, 'turnserver.pid')}`,
    `log-file=${path.join(config.dataDir, 'turnserver.log')}`,
    'simple-log',
    'no-stdout-log',
  ];
  return lines.join('\n') + '\n';
}
