import { LIMITS } from '@hearth/protocol';
/**
 * Argon2id with OWASP's recommended minimum (19 MiB, t=2, p=1): ~50 ms a hash here.
 * The native module loads on first use: an idle site never needs it.
 */
const OPTIONS = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = LIMITS.passwordMinChars;

let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const library = () => (argon2 ??= import('@node-rs/argon2'));

export async function hashPassword(password: string): Promise<string> {
  return (await library()).hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await (await library()).verify(passwordHash, password);
  } catch {
    return false;
  }
}
