import fs from 'node:fs';
import path from 'node:path';
import { Context, findUser, issuePairingCode, loadSiteConfig } from '@hearth/server';
import { formatAddress, parseAddress, siteOrigin } from '@hearth/protocol';
import type { VaultEvent, VaultMessage, VaultStore } from '@hearth/vault';

/**
 * The vault's code loads only for `hearth vault` commands: a site process (which shares this
 * bundle) keeps it out of memory. (scripts/build.mjs leaves @hearth/vault outside the bundle.)
 */
const vaultModule = () => import('@hearth/vault');
import { CliError } from '../errors.js';
import { Prompter } from '../prompt.js';

const PASSPHRASE_ENV = 'HEARTH_VAULT_PASSPHRASE';

/** The vault passphrase: from HEARTH_VAULT_PASSPHRASE (unattended start), else asked; a new vault asks twice. */
async function passphrase(prompter: Prompter, options: { confirm: boolean }): Promise<string> {
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) return fromEnv;
  const flag = `the passphrase (set ${PASSPHRASE_ENV} to start without a terminal)`;
  const first = await prompter.ask('Vault passphrase', { flag, secret: true, validate: (v) => (v.length >= 8 ? null : 'use at least 8 characters') });
  if (options.confirm) {
    const again = await prompter.ask('The same passphrase again', { flag, secret: true });
    if (again !== first) throw new CliError('the two passphrases differ; nothing was changed', 2);
  }
  return first;
}

async function withVault<T>(dir: string, use: (store: VaultStore) => Promise<T> | T): Promise<T> {
  const prompter = new Prompter();
  let store: VaultStore;
  try {
    store = await (await vaultModule()).openVault(dir, await passphrase(prompter, { confirm: false }));
  } finally {
    prompter.close();
  }
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

/** `hearth vault code`: a one-time pairing code, made on the backend machine itself. */
export async function vaultCode(options: { data: string; user: string }): Promise<{ code: string; expiresAt: Date }> {
  const config = loadSiteConfig(path.resolve(options.data));
  const ctx = await Context.open({ config, logLevel: 'warn' });
  try {
    if (!(await findUser(ctx.db, options.user))) throw new CliError(`there is no user ${options.user} on this site`);
    const { code, expiresAt } = await issuePairingCode(ctx.db, options.user, Date.now());
    return { code, expiresAt: new Date(expiresAt) };
  } finally {
    await ctx.close();
  }
}

export async function vaultPair(options: { data: string; site: string; code: string; password?: string; name?: string }): Promise<{ address: string; deviceId: string }> {
  const { openVault, pairVault, vaultFile } = await vaultModule();
  const file = vaultFile(options.data);
  const isNew = !fs.existsSync(file);
  const prompter = new Prompter();
  let store: VaultStore;
  let password: string;
  try {
    store = await openVault(options.data, await passphrase(prompter, { confirm: isNew }), { create: true });
    password = options.password ?? (await prompter.ask('Your site password (unlocks your identity key)', { flag: '--password', secret: true }));
  } catch (error) {
    if (isNew) removeVaultFiles(file);
    throw error;
  } finally {
    prompter.close();
  }
  let config;
  try {
    config = await pairVault(store, { site: options.site, code: options.code, password, name: options.name });
  } catch (error) {
    store.close();
    // A failed pairing leaves no half-made vault behind, so the same folder can be used again.
    if (isNew) removeVaultFiles(file);
    throw error;
  }
  store.close();
  return { address: config.address, deviceId: config.deviceId };
}

function removeVaultFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
}

/** `hearth vault start`: runs until stopped; prints what happens, never message content. */
export async function vaultStart(options: { data: string; relay?: string[] }, out: (line: string) => void, onStop: (stop: () => Promise<void>) => void): Promise<void> {
  const { openVault, vaultSecrets, VaultLink } = await vaultModule();
  const prompter = new Prompter();
  let store: VaultStore;
  try {
    store = await openVault(options.data, await passphrase(prompter, { confirm: false }));
  } finally {
    prompter.close();
  }
  const secrets = vaultSecrets(store, options.data);
  // A relay named here is used, like those the site names, only when the site cannot be reached.
  const insecure = secrets.config.origin.startsWith('http:');
  const relays = (options.relay ?? []).map((text) => {
    let address;
    try {
      address = parseAddress(text);
    } catch (error) {
      store.close();
      throw new CliError(`--relay ${text}: ${(error as Error).message} (give the address of the friend who relays for you, like carol@example.org)`, 2);
    }
    return { address: formatAddress(address), origin: siteOrigin(address, { allowInsecureLoopback: insecure }) };
  });
  const link = new VaultLink(store, secrets, relays);
  link.on('event', (event: VaultEvent) => out(describe(event, secrets.config.site)));
  out(`Vault of ${secrets.config.address} (device ${secrets.config.deviceId}) connecting to ${secrets.config.site}`);
  link.start();
  onStop(async () => {
    await link.stop();
    store.close();
  });
  try {
    await link.done;
  } catch (error) {
    store.close();
    throw new CliError((error as Error).message);
  }
}

function describe(event: VaultEvent, site: string): string {
  switch (event.type) {
    case 'connected':
      return `Connected to ${site}${event.via ? ` through ${event.via}'s relay` : ''}: ${event.queued} message(s) waiting`;
    case 'relay_failed':
      return `Could not reach ${site} through ${event.via}: ${event.reason}`;
    case 'synced':
      return `Synced: ${event.total} message(s) in the vault (${event.stored} new this run, ${event.duplicates} already here, ${event.rejected} rejected)`;
    case 'rejected':
      return `warning: message ${event.id} from ${event.peer} was not stored: ${event.reason}`;
    case 'history':
      return `Sent ${event.messages} message(s) of history to device ${event.device}`;
    case 'disconnected':
      return `Link to ${site} lost (${event.reason}); retrying in ${(event.retryInMs / 1000).toFixed(1)} s`;
    case 'fatal':
      return `error: ${event.message}`;
  }
}

export async function vaultMessages(options: { data: string; with?: string }): Promise<{ address: string; messages: VaultMessage[] }> {
  const { vaultSecrets } = await vaultModule();
  return withVault(options.data, (store) => {
    const { config } = vaultSecrets(store, options.data);
    const peer = options.with === undefined ? undefined : formatAddress(parseAddress(options.with));
    const messages = store.list(config.address, peer).sort((a, b) => a.sentAt.localeCompare(b.sentAt));
    return { address: config.address, messages };
  });
}

/** The backup is the vault's own sealed store, copied consistently: it opens only with the passphrase. */
export async function vaultExport(options: { data: string; out: string }): Promise<{ messages: number; file: string }> {
  const file = path.resolve(options.out);
  if (fs.existsSync(file)) throw new CliError(`${file} already exists; choose another --out file`, 2);
  const { vaultSecrets } = await vaultModule();
  return withVault(options.data, async (store) => {
    vaultSecrets(store, options.data);
    await store.backupTo(file);
    fs.chmodSync(file, 0o600);
    return { messages: store.count(), file };
  });
}

export async function vaultImport(options: { data: string; from: string }): Promise<{ address: string; messages: number }> {
  const source = path.resolve(options.from);
  if (!fs.existsSync(source)) throw new CliError(`there is no file ${source}`, 2);
  const { vaultFile, vaultSecrets } = await vaultModule();
  const target = vaultFile(options.data);
  if (fs.existsSync(target)) throw new CliError(`${path.dirname(target)} already holds a vault; import into an empty --data folder`, 2);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.copyFileSync(source, target);
  fs.chmodSync(target, 0o600);
  try {
    return await withVault(options.data, (store) => ({ address: vaultSecrets(store, options.data).config.address, messages: store.count() }));
  } catch (error) {
    removeVaultFiles(target);
    if ((error as { code?: unknown }).code === 'wrong_passphrase') throw new CliError('the passphrase does not open this backup; nothing was imported');
    throw error;
  }
}
