import { formatAddress, parseAddress } from '@hearth/protocol/address';

/** `bob@example.com`, `@bob@example.com`, or a pasted profile link `https://example.com/@bob`. */
export function addressFromInput(input: string): string {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    const url = new URL(text);
    const match = /^\/@([a-z0-9_]{1,32})(\/[A-Za-z0-9_-]{1,64})?\/?$/i.exec(url.pathname);
    if (!match) throw new Error('That link is not a profile link (it should end in /@name).');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return formatAddress({ username: match[1]!.toLowerCase(), host: url.hostname.toLowerCase(), port });
  }
  return formatAddress(parseAddress(text));
}
