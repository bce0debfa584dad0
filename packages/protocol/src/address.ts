import { AddressError } from './errors.js';

/** A user on a site: `username@host` (port 443) or `username@host:port`. */
export interface Address {
  username: string;
  host: string;
  port: number;
}

/** A site (one backend) is named by host and port; users share it. */
export interface SiteName {
  host: string;
  port: number;
}

export const DEFAULT_PORT = 443;
const USERNAME = /^[a-z0-9_]{1,32}$/;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_BRACKETED = /^\[[0-9a-f:.]{2,45}\]$/;

export function isValidUsername(name: string): boolean {
  return USERNAME.test(name);
}

/**
 * Usernames that start with "_" name parts of a site, not people (the relay inbox, `_relay`):
 * a site never gives one to a person.
 */
export function isReservedUsername(name: string): boolean {
  return name.startsWith('_');
}

export function assertUsername(name: string): string {
  if (!USERNAME.test(name)) {
    throw new AddressError(`username "${printable(name)}" is not valid: use 1 to 32 of a-z, 0-9 and _`);
  }
  return name;
}

/** Hosts are ASCII only (IDNs in punycode), so look-alike Unicode cannot name a site. */
export function assertHost(host: string): string {
  if (host.length === 0 || host.length > 253) throw new AddressError('host is empty or longer than 253 characters');
  if (IPV4.test(host)) return host;
  if (host.startsWith('[')) {
    // IPv6 only in its canonical text form (RFC 5952: lower case, zeros compressed), as the
    // WHATWG URL parser writes it, so one address has one spelling in every envelope.
    if (!IPV6_BRACKETED.test(host) || canonicalIpv6(host) !== host) throw new AddressError(`host "${printable(host)}" is not an IPv6 address in canonical form (RFC 5952)`);
    return host;
  }
  const labels = host.split('.');
  if (!labels.every((label) => DNS_LABEL.test(label))) {
    throw new AddressError(`host "${printable(host)}" is not a valid DNS name or IP address`);
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) {
    throw new AddressError(`host "${printable(host)}" is not a valid DNS name or IP address`);
  }
  return host;
}

export function assertPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new AddressError(`port ${port} is not in 1..65535`);
  return port;
}

/**
 * Parses what a person types or pastes: `alice@example.com`, `@alice@example.com:8443`.
 * ASCII letters are folded to lower case (people type `Bob@Example.com`); anything outside
 * ASCII is refused rather than normalised, so no two different strings name one address.
 */
export function parseAddress(input: string): Address {
  if (typeof input !== 'string') throw new AddressError('address must be a string');
  const text = input.trim().replace(/^@/, '').toLowerCase();
  if (text.length === 0) throw new AddressError('address is empty: it must look like name@host or name@host:port');
  if (text.length > 300) throw new AddressError('address is too long');
  if (!/^[\x21-\x7e]+$/.test(text)) throw new AddressError(`address "${printable(input)}" has characters outside ASCII or spaces`);
  const at = text.indexOf('@');
  if (at <= 0 || at !== text.lastIndexOf('@')) {
    throw new AddressError(`address "${printable(input)}" must look like name@host or name@host:port`);
  }
  const username = assertUsername(text.slice(0, at));
  const { host, port } = parseHostPort(text.slice(at + 1));
  return { username, host, port };
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`. */
export function parseHostPort(text: string): SiteName {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new AddressError(`host "${printable(text)}" has an unclosed [`);
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new AddressError(`unexpected text after host in "${printable(text)}"`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw new AddressError(`port "${printable(portText)}" is not a number`);
    port = assertPort(Number(portText));
  }
  const lower = host.toLowerCase();
  return { host: assertHost(lower.startsWith('[') ? (canonicalIpv6(lower) ?? lower) : lower), port };
}

/** `[v6]` in canonical form, or null when it is not an IPv6 literal. */
function canonicalIpv6(bracketed: string): string | null {
  try {
    const hostname = new URL(`http://${bracketed}/`).hostname;
    return hostname.startsWith('[') ? hostname : null;
  } catch {
    return null;
  }
}

export function formatSite(site: SiteName): string {
  return site.port === DEFAULT_PORT ? site.host : `${site.host}:${site.port}`;
}

export function formatAddress(address: Address): string {
  return `${address.username}@${formatSite(address)}`;
}

export function sameSite(a: SiteName, b: SiteName): boolean {
  return a.host === b.host && a.port === b.port;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.username === b.username && sameSite(a, b);
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An IPv4 literal in a private range (RFC 1918): a test network, never the internet. */
export function isPrivateIpv4Literal(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/**
 * The origin a site is served at. Plain http is only between development sites, and only to
 * loopback or a private IPv4 address (a test network); everything else is https, so no
 * envelope or token crosses the internet in clear.
 */
export function siteOrigin(site: SiteName, options: { allowInsecureLoopback: boolean }): string {
  const insecure = options.allowInsecureLoopback && (isLoopbackHost(site.host) || isPrivateIpv4Literal(site.host));
  const scheme = insecure ? 'http' : 'https';
  const defaultPort = insecure ? 80 : 443;
  return site.port === defaultPort ? `${scheme}://${site.host}` : `${scheme}://${site.host}:${site.port}`;
}

/** The site a base URL serves (`https://example.com` → example.com:443). */
export function siteFromUrl(url: string): SiteName {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AddressError(`"${printable(url)}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new AddressError('site URL must be http or https');
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  return { host: assertHost(parsed.hostname.toLowerCase()), port: assertPort(port) };
}

function printable(text: string): string {
  const shown = String(text).slice(0, 64);
  return JSON.stringify(shown).slice(1, -1);
}

/**
 * What a person types or pastes to name someone: `bob@example.com`, `@bob@example.com`, or a
 * profile link `https://example.com/@bob` (a post link `.../@bob/ID` names its author too).
 */
export function addressFromInput(input: string): Address {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    const url = new URL(text);
    const match = /^\/@([a-z0-9_]{1,32})(\/[A-Za-z0-9_-]{1,64})?\/?$/i.exec(url.pathname);
    if (!match) throw new AddressError('That link is not a profile link (it should end in /@name).');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { username: match[1]!.toLowerCase(), host: url.hostname.toLowerCase(), port };
  }
  return parseAddress(text);
}
