import net from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { HearthError, isLoopbackHost } from '@hearth/protocol';

/** A domain a vendor or a person typed, refused with a message that says what to type instead. */
export class DomainError extends HearthError {
  constructor(message: string) {
    super('invalid_domain', message, { status: 400 });
  }
}

/** A domain as the service keeps it (ASCII, punycode for international names) and as people read it. */
export interface SiteDomain {
  /** Lowercase ASCII: what DNS, TLS and the Host header use. */
  ascii: string;
  /** The same name in Unicode, when it differs (shown beside the ASCII form, never instead of it). */
  unicode?: string;
}

const SCRIPTS = ['Latin', 'Cyrillic', 'Greek', 'Armenian', 'Hebrew', 'Arabic', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Thai', 'Devanagari', 'Georgian'] as const;
const SCRIPT_RE = Object.fromEntries(SCRIPTS.map((s) => [s, new RegExp(`\\p{Script=${s}}`, 'u')])) as Record<(typeof SCRIPTS)[number], RegExp>;

/** The writing systems the letters of one label come from (digits and hyphens belong to none). */
function scriptsOf(label: string): string[] {
  const found = new Set<string>();
  for (const ch of label) {
    if (!/\p{L}/u.test(ch)) continue;
    const script = SCRIPTS.find((s) => SCRIPT_RE[s].test(ch));
    found.add(script ?? 'other');
  }
  return [...found];
}

/**
 * Checks a domain for a new site (issue 12): a name only (no scheme, port, path or IP address),
 * at least two labels, each 1 to 63 letters, digits or hyphens, 253 characters in all. An
 * international name is kept in punycode; a label that mixes writing systems (a Cyrillic "а" in
 * "apple") is refused, showing the punycode so the trick is visible. `allowLoopbackIp` lets a
 * development service name its sites by loopback addresses (127.0.0.2, 127.0.0.3...).
 */
export function parseSiteDomain(input: string, options: { allowLoopbackIp?: boolean } = {}): SiteDomain {
  const text = String(input ?? '').trim();
  if (text === '') throw new DomainError('type a domain, like alice.example.com');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new DomainError(`type only the domain, without "${text.split('//')[0]}//": like ${text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]}`);
  if (/[/?#@\s]/.test(text)) throw new DomainError('a domain has no spaces, slashes, "?", "#" or "@": like alice.example.com');
  const bare = text.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) {
    if (options.allowLoopbackIp && net.isIPv4(bare) && isLoopbackHost(bare)) return { ascii: bare };
    throw new DomainError(`${text} is an IP address: a site needs a domain name (its certificate and its people's addresses are made for a name)`);
  }
  if (/:\d*$/.test(text)) throw new DomainError(`type the domain without a port: ${text.replace(/:\d*$/, '')} (the service chooses the port)`);
  const lowered = text.toLowerCase().replace(/\.$/, '');
  const ascii = domainToASCII(lowered);
  if (!ascii) throw new DomainError(`${text} is not a valid domain name`);
  if (ascii.length > 253) throw new DomainError('a domain is at most 253 characters');
  const labels = ascii.split('.');
  if (labels.length < 2) throw new DomainError(`${text} is not a full domain: add its ending, like ${lowered}.example.com`);
  for (const label of labels) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) throw new DomainError(`"${label}" in ${ascii} is not a valid part of a domain (letters, digits and hyphens, 1 to 63, not starting or ending with a hyphen)`);
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw new DomainError(`${text} ends in a number: that is not a domain name`);
  const unicode = domainToUnicode(ascii);
  for (const label of unicode.split('.')) {
    const scripts = scriptsOf(label);
    if (scripts.length > 1) throw new DomainError(`${unicode} mixes ${scripts.join(' and ')} letters in "${label}", a common impersonation trick; it is really ${ascii}. Use a name in one writing system.`);
  }
  return unicode !== ascii ? { ascii, unicode } : { ascii };
}

/** How a domain is shown: the ASCII name, with the Unicode form beside it when they differ. */
export function showDomain(domain: { ascii: string; unicode?: string | null }): string {
  return domain.unicode ? `${domain.unicode} (${domain.ascii})` : domain.ascii;
}
