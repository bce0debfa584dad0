import fs from 'node:fs';
import path from 'node:path';
import type { DeviceSecrets, KeyBackup, SigningKeyPair } from '@hearth/protocol';
import { VaultError, VaultStore } from './vault-store.js';

/** What pairing leaves in the vault, sealed in its store like everything else. */
export interface VaultConfig {
  /** Where the vault dials (as the owner gave it). */
  site: string;
  /** The site's own origin, which the vault's link proof names. */
  origin: string;
  address: string;
  deviceId: string;
  pairedAt: string;
}

export interface VaultSecrets {
  config: VaultConfig;
  device: DeviceSecrets;
  identity: SigningKeyPair;
  backup: KeyBackup;
}

export const VAULT_FILE = 'vault.db';

export function vaultFile(dir: string): string {
  return path.join(path.resolve(dir), VAULT_FILE);
}

/** Opens the vault in `dir`; `create` allows a new one (pairing and import), otherwise it must exist. */
export async function openVault(dir: string, passphrase: string, options: { create?: boolean } = {}): Promise<VaultStore> {
  const file = vaultFile(dir);
  if (!options.create && !fs.existsSync(file)) throw new VaultError('no_vault', `there is no vault in ${path.resolve(dir)}: pair one first with "hearth vault pair"`);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return VaultStore.open({ file, passphrase });
}

/** The paired vault's keys and settings, or a clear error when it was never paired. */
export function vaultSecrets(store: VaultStore, dir: string): VaultSecrets {
  const config = store.getSecret<VaultConfig>('config');
  const device = store.getSecret<DeviceSecrets>('device');
  const identity = store.getSecret<SigningKeyPair>('identity');
  const backup = store.getSecret<KeyBackup>('backup');
  if (!config || !device || !identity || !backup) throw new VaultError('not_paired', `the vault in ${path.resolve(dir)} is not paired yet: run "hearth vault pair"`);
  return { config, device, identity, backup };
}
