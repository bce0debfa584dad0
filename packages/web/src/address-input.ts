import { addressFromInput as parseInput, formatAddress } from '@hearth/protocol/address';

/** `bob@example.com`, `@bob@example.com`, or a pasted profile link `https://example.com/@bob`, as `name@host[:port]`. */
export function addressFromInput(input: string): string {
  return formatAddress(parseInput(input));
}
