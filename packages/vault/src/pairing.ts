import crypto from 'node:crypto';
import {
  certifyDevice,
  decryptKeyBackup,
  encryptKeyBackup,
  fromBase64url,
  generateAgreementKeyPair,
  generateSigningKeyPair,
  signingPublicKey,
  toBase64url,
  type DeviceSecrets,
  type KeyBackup,
  type SigningKeyPair,
} from '@hearth/protocol';
import type { VaultConfig } from './config.js';
import { VaultError, type VaultStore } from './vault-store.js';

/** A site's JSON API, with its errors turned into VaultErrors that carry the site's own message. */
export async function siteRequest<T>(site: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${site}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw new VaultError('site_unreachable', `could not reach ${site}: ${cause}`);
  }
  const json = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) throw new VaultError(json?.error?.code ?? 'site_error', `${site} refused: ${json?.error?.message ?? `HTTP ${res.status}`}`);
  return json as T;
}

interface PairStart {
  address: string;
  origin: string;
  identityKey: string | null;
  backup: KeyBackup | null;
}

/**
 * Makes this vault one of the owner's devices. The pairing code (from the owner's site) proves the
 * owner wants it; the owner's password opens the identity-key backup, so the vault can certify its
 * own device keys, as any device of the owner does. If the account has no identity key yet, the
 * vault creates it and leaves a backup under the password for the owner's other devices.
 */
export async function pairVault(store: VaultStore, options: { site: string; code: string; password: string; name?: string }): Promise<VaultConfig> {
  if (store.getSecret<VaultConfig>('config')) {
    const existing = store.getSecret<VaultConfig>('config')!;
    throw new VaultError('already_paired', `this vault is already paired as ${existing.address}; use an empty --data folder for a new vault`);
  }
  const site = normalizeSite(options.site);
  const start = await siteRequest<PairStart>(site, 'POST', '/api/vault/pair/start', { code: options.code });
  let identity: SigningKeyPair;
  let backup: KeyBackup;
  if (start.identityKey) {
    if (!start.backup) throw new VaultError('no_key_backup', 'your account has an identity key but no key backup on its site: log in once with "hearth login" or the website first');
    let secret: Uint8Array;
    try {
      secret = decryptKeyBackup(start.backup, options.password);
    } catch {
      throw new VaultError('wrong_password', 'the password does not open your key backup: use the password you log in with');
    }
    identity = { secretKey: toBase64url(secret), publicKey: signingPublicKey(toBase64url(secret)) };
    if (identity.publicKey !== start.identityKey) throw new VaultError('backup_mismatch', 'the key backup does not match the account identity key');
    backup = start.backup;
  } else {
    identity = generateSigningKeyPair();
    backup = encryptKeyBackup(fromBase64url(identity.secretKey), options.password);
  }
  const device: DeviceSecrets = { id: `vault-${crypto.randomBytes(9).toString('base64url')}`, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
  const record = certifyDevice(identity, start.address, { id: device.id, signKey: device.sign.publicKey, dhKey: device.dh.publicKey });
  const paired = await siteRequest<{ address: string; deviceId: string; origin: string }>(site, 'POST', '/api/vault/pair', {
    code: options.code,
    device: { ...record, name: options.name ?? 'Home vault', identityKey: identity.publicKey },
    ...(start.identityKey ? {} : { backup }),
  });
  const config: VaultConfig = { site, origin: paired.origin, address: paired.address, deviceId: device.id, pairedAt: new Date().toISOString() };
  store.setSecret('device', device);
  store.setSecret('identity', identity);
  store.setSecret('backup', backup);
  store.setSecret('config', config);
  return config;
}

export function normalizeSite(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new VaultError('invalid_site', `--site must be your site's URL, like https://example.com (got "${text}")`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new VaultError('invalid_site', '--site must be an http(s) URL');
  return url.origin;
}
