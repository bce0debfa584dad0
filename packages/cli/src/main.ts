import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { createSiteConfig, listUsernames, siteExists } from '@hearth/server';
import { HearthError } from '@hearth/protocol';
import { nativeCrypto } from '@hearth/protocol/node';
import { runDemo } from './commands/demo.js';
import { addUser, initSite, rotateUserKey, runSite } from './commands/site.js';
import { migrateStorage, type MigrateStorageOptions } from './commands/migrate-storage.js';
import { login, loadProfile } from './device-profile.js';
import { listDms, sendDm, sendDms, vaultHistory } from './dm.js';
import { CliError } from './errors.js';
import { turnConfig } from './commands/turn.js';
import { siteStatus } from './commands/status.js';
import { relayAllow, relayDeny, relayList, relayHops, relayMutuals, relayUnuse, relayUse } from './commands/relay.js';
import { serviceAdd, serviceTurn, serviceQuota, serviceAdmin, serviceSettings, serviceSystemd, serviceBackup, serviceBackups, serviceDelete, servicePurge, serviceRestore, serviceCaddyfile, serviceInit, serviceList, serviceSetStatus, serviceStart } from './commands/service.js';
import { vaultCode, vaultExport, vaultImport, vaultMessages, vaultPair, vaultStart } from './commands/vault.js';

/** All of standard input, as text (for commands that take their input piped in). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function onShutdown(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping...\n`);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * Said when a long-running process starts with OpenSSL doing its signatures instead of libsodium,
 * which checks them about twice as fast: an operator who sees a slow site knows why.
 */
function sayCryptoNotice(out: (line: string) => void, crypto: { library: string; reason?: string } = nativeCrypto): void {
  if (crypto.library === 'openssl') out(`Signing and checking with OpenSSL (${crypto.reason}); libsodium would be about twice as fast.`);
}

export function buildProgram(out: (line: string) => void = (l) => console.log(l)): Command {
  const program = new Command('hearth')
    .description('Hearth: your own website that talks to other people\'s websites.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('init')
    .description('create a site in a data folder (asks for what is missing when run on a terminal)')
    .option('--data <dir>', 'data folder for the site')
    .option('--url <url>', 'public URL of the site, e.g. https://example.com or http://127.0.0.1:4000')
    .option('--user <name>', 'the first user (you)')
    .option('--password <pw>', 'password of the first user')
    .option('--display-name <name>', 'display name of the first user')
    .option('--dev', 'development site: plain http and private addresses allowed')
    .option('--database <url>', 'keep the data in PostgreSQL (postgres://user:pw@host/db) instead of the embedded SQLite file; default: $HEARTH_DATABASE_URL if set')
    .option('--database-schema <name>', 'with PostgreSQL: the schema for this site (default: site_ and the site\'s name)')
    .action(async (opts: { data?: string; url?: string; user?: string; password?: string; displayName?: string; dev?: boolean; database?: string; databaseSchema?: string }) => {
      const site = await initSite(opts);
      out(`Created a site at ${site.url} in ${site.dataDir} with user ${site.user}${site.storage ? ` (data in ${site.storage})` : ''}.`);
      out(`Start it with: hearth start --data ${site.dataDir}`);
    });

  program
    .command('start')
    .description('serve a site from its data folder')
    .requiredOption('--data <dir>', 'data folder created by "hearth init"')
    .option('--host <address>', 'interface to listen on (default: loopback for dev sites, all interfaces otherwise)')
    .option('--port <port>', "port to listen on, when a reverse proxy owns the URL's port (default: the URL's port)")
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
    .option('--init', 'create a local site first if the folder holds none, and print its setup link')
    .option('--url <url>', 'with --init: the URL of the new site', 'http://127.0.0.1:4000')
    .option('--turn', "also start coturn (Debian's TURN server) as this site's call relay")
    .action(async (opts: { data: string; host?: string; port?: string; logLevel?: string; init?: boolean; url: string; turn?: boolean }) => {
      // First run: create a local site; its owner finishes in the browser with the printed link.
      if (opts.init && !siteExists(path.resolve(opts.data))) {
        createSiteConfig(path.resolve(opts.data), { url: opts.url, dev: true });
        out(`Created a local site at ${opts.url} in ${path.resolve(opts.data)}.`);
      }
      const running = await runSite(opts);
      out(`Hearth is serving ${running.url}`);
      sayCryptoNotice(out);
      if (running.ctx.config.turn && opts.turn) out(`Call relay (coturn) on port ${running.ctx.config.turn.port}, UDP and TCP`);
      const users = await listUsernames(running.ctx.db);
      if (users.length === 0) {
        out(`\nThis site has no users yet. Finish setting it up in your browser:\n  ${running.url}/setup?code=${running.ctx.setupCode}\n`);
        out(`(or from here: npx hearth user add --data ${opts.data} --user NAME --password PASSWORD)`);
      } else {
        for (const name of users) out(`  ${running.url}/api/users/${name}`);
      }
      onShutdown(running.close);
      await new Promise<void>(() => {});
    });

  program
    .command('migrate-storage')
    .description('move a stopped site (or every site of a hosting service) from its SQLite file to PostgreSQL, every table checked')
    .option('--data <dir>', 'the site\'s data folder')
    .option('--service <dir>', 'a hosting service\'s folder: move all its sites')
    .option('--to <url>', 'the PostgreSQL database, postgres://user:pw@host/db (default: $HEARTH_DATABASE_URL)')
    .option('--schema <name>', 'with --data: the schema for the site (default: site_ and the site\'s name)')
    .action(async (opts: MigrateStorageOptions) => {
      await migrateStorage(opts, out);
    });

  program
    .command('status')
    .description('is the site answering, is its disk full, what is queued (exits 1 when something needs attention)')
    .requiredOption('--data <dir>', 'data folder of the site')
    .action(async (opts: { data: string }) => {
      await siteStatus(opts, out);
    });

  const user = program.command('user').description('manage the users of a site');
  user
    .command('add')
    .description('add a user to a site (several people may share one backend)')
    .requiredOption('--data <dir>', 'data folder of the site')
    .requiredOption('--user <name>', 'username: 1 to 32 of a-z, 0-9 and _')
    .requiredOption('--password <pw>', 'password, at least 8 characters')
    .option('--display-name <name>', 'display name')
    .action(async (opts: { data: string; user: string; password: string; displayName?: string }) => {
      await addUser(opts);
      out(`Added user ${opts.user}.`);
    });

  user
    .command('rotate-key')
    .description("give a user a new site key: the old key signs a notice for the new one, and queued envelopes are signed again")
    .requiredOption('--data <dir>', 'data folder of the site')
    .requiredOption('--user <name>', 'the user whose site key to rotate')
    .action(async (opts: { data: string; user: string }) => {
      const result = await rotateUserKey(opts);
      out(`Rotated the site key of ${opts.user}: ${result.previous} -> ${result.publicKey}.`);
      out(`${result.resigned} queued envelope(s) signed again. Other sites switch at their next look at the profile; the old key is refused from then on.`);
    });

  program
    .command('demo')
    .description('run three sites on loopback (alice, bob, carol) that follow each other')
    .option('--data <dir>', 'where the demo sites keep their data', './demo-data')
    .option('--base-port <port>', 'first of three ports', '4001')
    .option('--exit', 'set up, print, and exit instead of serving')
    .action(async (opts: { data: string; basePort: string; exit?: boolean }) => {
      const basePort = Number(opts.basePort);
      if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65533) throw new CliError('--base-port must be a port number', 2);
      const sites = await runDemo({ data: opts.data, basePort, log: out });
      const closeAll = async () => {
        for (const site of sites) await site.close();
      };
      if (opts.exit) {
        for (const site of sites) await site.ctx.outbox.drained();
        await closeAll();
        return;
      }
      onShutdown(closeAll);
      await new Promise<void>(() => {});
    });

  program
    .command('login')
    .description('log in and make a profile folder one of your devices (with its own keys) for direct messages')
    .requiredOption('--profile <dir>', 'profile folder of this device')
    .requiredOption('--site <url>', 'URL of your site')
    .requiredOption('--user <name>', 'your username')
    .requiredOption('--password <pw>', 'your password')
    .action(async (opts: { profile: string; site: string; user: string; password: string }) => {
      const profile = await login({ dir: opts.profile, site: opts.site, username: opts.user, password: opts.password });
      out(`Logged in as ${profile.address}; this device is ${profile.device.id}.`);
    });

  const dm = program.command('dm').description('end-to-end encrypted direct messages');
  dm.command('send')
    .description('send a direct message')
    .requiredOption('--profile <dir>', 'profile folder of this device')
    .argument('<address>', 'recipient, like bob@example.com')
    .argument('[text]', 'the message; without it, each line of standard input is a message')
    .action(async (address: string, text: string | undefined, opts: { profile: string }) => {
      const profile = loadProfile(opts.profile);
      if (text !== undefined) {
        const sent = await sendDm(opts.profile, profile, address, text);
        out(`Sent ${sent.id}, encrypted to ${sent.devices} device(s).`);
        return;
      }
      if (process.stdin.isTTY) throw new CliError('give the message after the address, or pipe messages in, one per line (hearth dm send ADDRESS < messages.txt)', 2);
      const lines = (await readStdin()).split(/\r?\n/).filter((line) => line.trim() !== '');
      if (lines.length === 0) throw new CliError('standard input held no message: give one message per line', 2);
      const sent = await sendDms(opts.profile, profile, address, lines, (done, total) => process.stderr.write(`Sent ${done} of ${total}...\n`));
      const refused = sent.results.filter((r) => 'error' in r);
      out(`Sent ${sent.results.length - refused.length} of ${lines.length} message(s), each encrypted to ${sent.devices} device(s).`);
      for (const r of refused) if ('error' in r) process.stderr.write(`refused: ${JSON.stringify(r.text.slice(0, 60))}: ${r.error.message}\n`);
      if (refused.length > 0) throw new CliError(`${refused.length} message(s) were refused by your site (see above); the others were sent`);
    });
  dm.command('list')
    .description('print the decrypted conversation(s)')
    .requiredOption('--profile <dir>', 'profile folder of this device')
    .option('--with <address>', 'only the conversation with this person')
    .option('--vault', 'the whole history from your home vault, including messages from before this device existed')
    .option('--json', 'print JSON')
    .action(async (opts: { profile: string; with?: string; json?: boolean; vault?: boolean }) => {
      const profile = loadProfile(opts.profile);
      const result = opts.vault ? await vaultHistory(profile, opts.with) : await listDms(opts.profile, profile, opts.with);
      if (opts.json) {
        out(JSON.stringify(result, null, 2));
        return;
      }
      if (result.messages.length === 0) out('No messages.');
      for (const m of result.messages) out(`${m.sentAt}  ${m.from} -> ${m.to}: ${m.text}`);
      for (const r of result.rejected) process.stderr.write(`warning: message ${r.id} from ${r.peer} was not shown: ${r.reason}\n`);
    });

  const relay = program.command('relay').description("the friends relay: whom you relay for, the relays you use, and how your site reaches others");
  const relayOptions = (command: ReturnType<typeof relay.command>) =>
    command.requiredOption('--data <dir>', 'data folder of the site').option('--user <name>', 'whose relay (needed when the site has several users)');
  relayOptions(relay.command('allow').argument('<address>', 'a friend on another site, name@host'))
    .description('relay for a friend: pass on their envelopes to the sites of people you relay for')
    .option('--per-minute <n>', 'envelopes a minute (default 600)')
    .option('--mb-per-day <n>', 'megabytes a day (default 200)')
    .action(async (address: string, opts: { data: string; user?: string; perMinute?: string; mbPerDay?: string }) => {
      await relayAllow({ ...opts, address }, out);
    });
  relayOptions(relay.command('deny').argument('<address>', 'a friend you relay for'))
    .description('stop relaying for someone, at once')
    .action(async (address: string, opts: { data: string; user?: string }) => {
      await relayDeny({ ...opts, address }, out);
    });
  relayOptions(relay.command('list'))
    .description('whom you relay for (with what you relayed today), the relays you use, and the sites reached through one')
    .action(async (opts: { data: string; user?: string }) => {
      await relayList(opts, out);
    });
  relayOptions(relay.command('mutuals').argument('<on|off>', 'on: also relay for everyone you follow who follows you back'))
    .description('relay for your mutual follows too (off unless you turn it on)')
    .action(async (state: string, opts: { data: string; user?: string }) => {
      await relayMutuals({ ...opts, state }, out);
    });
  relay
    .command('hops')
    .argument('<1|2>', '1: a relay passes your envelopes straight on (default); 2: it may pass them through one more relay')
    .description('how many relays your site\'s relayed envelopes may pass (for the whole site; restart it to apply)')
    .requiredOption('--data <dir>', 'the site\'s data folder')
    .action((hops: string, opts: { data: string }) => {
      relayHops({ ...opts, hops }, out);
    });
  relayOptions(relay.command('use').argument('<address>', 'a friend who relays for you, name@host'))
    .description('use a friend\'s relay for your own traffic when a direct path fails (tried in the order added)')
    .action(async (address: string, opts: { data: string; user?: string }) => {
      await relayUse({ ...opts, address }, out);
    });
  relayOptions(relay.command('unuse').argument('<address>', 'one of your relays'))
    .description('stop using a relay')
    .action(async (address: string, opts: { data: string; user?: string }) => {
      await relayUnuse({ ...opts, address }, out);
    });

  program
    .command('turn')
    .description("the site's own TURN relay for calls (coturn)")
    .command('config')
    .description('print (or write with --out) the coturn configuration for a site; keeps its shared secret in hearth.json')
    .requiredOption('--data <dir>', 'data folder of the site')
    .option('--out <file>', 'write the configuration to this file instead of printing it')
    .option('--port <port>', 'STUN/TURN port, UDP and TCP (default 3478)')
    .option('--min-port <port>', 'lowest relay port (default 49152)')
    .option('--max-port <port>', 'highest relay port (default 65535)')
    .option('--external-ip <ip>', 'the public address, when the machine is behind 1:1 NAT')
    .action((opts: { data: string; out?: string; port?: string; minPort?: string; maxPort?: string; externalIp?: string }) => {
      const result = turnConfig(opts);
      if (result.file) out(`Wrote ${result.file}. Start coturn with: turnserver -c ${result.file} (or run the site with "hearth start --turn").`);
      else process.stdout.write(result.text);
    });

  const service = program
    .command('service')
    .description('a hosting service: many people\'s sites, each on its own domain, in one process')
    .addHelpText('after', '\nEach site keeps its own folder, keys, users and database under DIR/sites/.');
  service
    .command('init')
    .description('create a hosting service in a folder')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--dev', 'a development service: sites on loopback addresses (127.0.0.2...) over plain http')
    .option('--port <port>', 'the port in the sites\' URLs (default 443, or 4000 with --dev)')
    .action((opts: { data: string; dev?: boolean; port?: string }) => serviceInit(opts, out));
  service
    .command('add')
    .argument('<domain>', 'the site\'s domain, like alice.example.com')
    .description('create a site on its own domain, with its first person')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .requiredOption('--user <name>', 'the first person\'s username')
    .requiredOption('--password <password>', 'their password')
    .option('--name <name>', 'their display name')
    .action(async (domain: string, opts: { data: string; user: string; password: string; name?: string }) => serviceAdd({ ...opts, domain }, out));
  service
    .command('list')
    .description('the sites of the service, with their state')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--json', 'print JSON')
    .action((opts: { data: string; json?: boolean }) => serviceList(opts, out));
  for (const [name, status, what] of [['suspend', 'suspended', 'suspend a site: it answers 503 with a notice, and keeps its data'], ['resume', 'active', 'let a suspended site serve again']] as const) {
    service
      .command(name)
      .argument('<domain>', 'one of the service\'s sites')
      .description(what)
      .requiredOption('--data <dir>', 'the service\'s folder')
      .action((domain: string, opts: { data: string }) => serviceSetStatus({ ...opts, domain, status }, out));
  }
  service
    .command('backup')
    .argument('<domain>', 'one of the service\'s sites')
    .description('back up one site while it serves (its keys, a consistent copy of its database, its media)')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--out <file>', 'where to write it (default: DIR/backups/DOMAIN/)')
    .action(async (domain: string, opts: { data: string; out?: string }) => serviceBackup({ ...opts, domain }, out));
  service
    .command('backups')
    .argument('<domain>', 'one of the service\'s sites')
    .description('the backups kept for a site (the running service makes one a day and keeps 7)')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--json', 'print JSON')
    .action((domain: string, opts: { data: string; json?: boolean }) => serviceBackups({ ...opts, domain }, out));
  service
    .command('restore')
    .description('restore one site from a backup; it must be suspended or deleted first, and no other site is touched')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .requiredOption('--from <file>', 'a backup made by "hearth service backup"')
    .action(async (opts: { data: string; from: string }) => serviceRestore(opts, out));
  service
    .command('delete')
    .argument('<domain>', 'one of the service\'s sites')
    .description('delete a site: it answers 410 with a notice, and its data is kept for a grace period (30 days)')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .action((domain: string, opts: { data: string }) => serviceDelete({ ...opts, domain }, out));
  service
    .command('purge')
    .description('remove for good the sites deleted longer ago than the grace period')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .action((opts: { data: string }) => servicePurge(opts, out));
  service
    .command('quota')
    .argument('<domain>', 'one of the service\'s sites')
    .description('limit a site: its storage (database and media), its posts per hour, its relay volume; "none" lifts a limit')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--storage-mb <n>', 'most megabytes the site may hold, or none')
    .option('--posts-per-hour <n>', 'most posts the site may publish in an hour, or none')
    .option('--relay-mb-per-day <n>', 'most megabytes the site\'s people may relay for friends in a day, or none')
    .action((domain: string, opts: { data: string; storageMb?: string; postsPerHour?: string; relayMbPerDay?: string }) => serviceQuota({ ...opts, domain }, out));
  service
    .command('admin')
    .description('set the hosting panel\'s administrator (the panel is at the host set with "service settings --panel-host")')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .requiredOption('--user <name>', 'the administrator\'s name')
    .requiredOption('--password <password>', 'their password (at least 10 characters)')
    .action(async (opts: { data: string; user: string; password: string }) => serviceAdmin(opts, out));
  service
    .command('settings')
    .description('where the panel is served, and the public signup page')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--panel-host <name>', 'the host name of the panel and the signup page, like hosting.example.com')
    .option('--base-domain <domain>', 'new sites from the signup page are NAME.DOMAIN (its DNS: a wildcard pointing here)')
    .option('--signup <on|off>', 'let anyone create a site on the signup page')
    .option('--public-address <ip...>', 'the service\'s public IP addresses: a new site\'s domain must point at one of them')
    .action((opts: { data: string; panelHost?: string; baseDomain?: string; signup?: string; publicAddress?: string[] }) => serviceSettings(opts, out));
  service
    .command('turn')
    .description('one coturn (Debian\'s TURN server) for the calls of every site of the service')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--port <port>', 'STUN/TURN port, UDP and TCP (default 3478)')
    .option('--min-port <port>', 'lowest relay port (default 49152)')
    .option('--max-port <port>', 'highest relay port (default 65535)')
    .option('--external-ip <ip>', 'the public address, when the machine is behind 1:1 NAT')
    .action((opts: { data: string; port?: string; minPort?: string; maxPort?: string; externalIp?: string }) => serviceTurn(opts, out));
  service
    .command('systemd')
    .description('systemd units for the service, Caddy in front of it, and coturn when set up (writes the Caddyfile too)')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--user <name>', 'the system user the service runs as (owns the folder)', 'hearth')
    .option('--port <port>', 'the port the service listens on, for Caddy (default 8080)')
    .option('--out <dir>', 'write the unit files here (like /etc/systemd/system) instead of printing them')
    .action((opts: { data: string; user: string; out?: string; port?: string }) => serviceSystemd(opts, out));
  service
    .command('caddyfile')
    .description('print (or write with --out) the Caddyfile for HTTPS in front of the service; --acme-* settings are kept for next time')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--out <file>', 'write it to this file')
    .option('--port <port>', 'the port the service listens on (default 8080)')
    .option('--acme-directory <url>', 'the ACME directory certificates come from (default: Let\'s Encrypt)')
    .option('--acme-ca-root <file>', 'PEM root of the ACME server\'s own certificate (a test CA)')
    .option('--email <address>', 'where the CA may write about expiring certificates')
    .action((opts: { data: string; out?: string; port?: string; acmeDirectory?: string; acmeCaRoot?: string; email?: string }) => serviceCaddyfile(opts, out));
  service
    .command('start')
    .description('serve every site of the service (behind Caddy for HTTPS)')
    .requiredOption('--data <dir>', 'the service\'s folder')
    .option('--host <address>', 'interface to listen on (default: loopback, where Caddy proxies to; all interfaces for a dev service)')
    .option('--port <port>', 'port to listen on (default 8080 behind Caddy; a dev service: the port in its sites\' URLs)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
    .option('--caddy', 'also run Caddy in front: HTTPS for every site, certificates on demand (see hearth service caddyfile)')
    .option('--http-port <port>', 'with --caddy: Caddy\'s HTTP port (default 80)')
    .option('--https-port <port>', 'with --caddy: Caddy\'s HTTPS port (default 443)')
    .action(async (opts: { data: string; host?: string; port?: string; logLevel?: string; caddy?: boolean; httpPort?: string; httpsPort?: string }) => {
      const running = await serviceStart(opts, out);
      sayCryptoNotice(out);
      onShutdown(() => running.close());
      await new Promise<void>(() => {});
    });

  const vault = program
    .command('vault')
    .description('the home vault: keeps your message history at home, encrypted, and dials out to your site')
    .addHelpText('after', '\nThe vault passphrase is asked on the terminal, or taken from HEARTH_VAULT_PASSPHRASE.');
  vault
    .command('code')
    .description('print a one-time pairing code for a user\'s vault (run on the site\'s machine; the settings page has it too)')
    .requiredOption('--data <dir>', 'data folder of the site')
    .requiredOption('--user <name>', 'whose vault')
    .action(async (opts: { data: string; user: string }) => {
      const { code, expiresAt } = await vaultCode(opts);
      out(`Pairing code for ${opts.user}'s vault: ${code}`);
      out(`It works once, until ${expiresAt.toISOString()}. On the vault: hearth vault pair --data VAULT_DIR --site URL --code ${code}`);
    });
  vault
    .command('pair')
    .description('make a new vault in a folder and pair it with your site')
    .requiredOption('--data <dir>', 'the vault\'s folder')
    .requiredOption('--site <url>', 'URL of your site')
    .requiredOption('--code <code>', 'the pairing code from your site')
    .option('--password <pw>', 'your site password, which unlocks your identity key (asked when missing)')
    .option('--name <name>', 'name of the vault in your device list', 'Home vault')
    .action(async (opts: { data: string; site: string; code: string; password?: string; name: string }) => {
      const paired = await vaultPair(opts);
      out(`Paired: this vault is a device of ${paired.address} (${paired.deviceId}).`);
      out(`Start it with: hearth vault start --data ${opts.data}`);
    });
  vault
    .command('start')
    .description('run the vault: connect out to your site, keep syncing, reconnect by itself')
    .requiredOption('--data <dir>', 'the vault\'s folder')
    .option('--relay <address...>', 'a friend who relays for you (like carol@example.org), used when your site cannot be reached; the relays set on your site are used too')
    .action(async (opts: { data: string; relay?: string[] }) => {
      sayCryptoNotice(out);
      await vaultStart(opts, out, onShutdown);
    });
  vault
    .command('messages')
    .description('print the history kept in the vault')
    .requiredOption('--data <dir>', 'the vault\'s folder')
    .option('--with <address>', 'only the conversation with this person')
    .option('--json', 'print JSON')
    .action(async (opts: { data: string; with?: string; json?: boolean }) => {
      const result = await vaultMessages(opts);
      if (opts.json) return out(JSON.stringify(result, null, 2));
      if (result.messages.length === 0) out('No messages.');
      for (const m of result.messages) out(`${m.sentAt}  ${m.from} -> ${m.to}: ${m.text}`);
    });
  vault
    .command('export')
    .description('write an encrypted backup of the vault (it opens only with the vault passphrase)')
    .requiredOption('--data <dir>', 'the vault\'s folder')
    .requiredOption('--out <file>', 'backup file to write')
    .action(async (opts: { data: string; out: string }) => {
      const result = await vaultExport(opts);
      out(`Wrote ${result.file}: ${result.messages} message(s), keys and contacts, encrypted under the vault passphrase.`);
    });
  vault
    .command('import')
    .description('restore a vault from a backup into an empty folder (on a new device)')
    .requiredOption('--data <dir>', 'the new vault\'s folder')
    .requiredOption('--from <file>', 'backup file written by "hearth vault export"')
    .action(async (opts: { data: string; from: string }) => {
      const result = await vaultImport(opts);
      out(`Restored the vault of ${result.address}: ${result.messages} message(s). Start it with: hearth vault start --data ${opts.data}`);
      out('Run only one copy of a vault at a time: the site keeps one link per vault.');
    });

  return program;
}

/**
 * A Hearth error, also from a module loaded outside the bundle (the vault's code carries its own
 * copy of the protocol package, so `instanceof` alone would miss its errors).
 */
function isHearthError(error: unknown): error is Error & { code: string } {
  if (error instanceof HearthError) return true;
  const e = error as { code?: unknown; status?: unknown };
  return error instanceof Error && typeof e.code === 'string' && typeof e.status === 'number';
}

/** Runs the CLI; returns the exit code. Library code never calls process.exit. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) {
      process.stderr.write(`hearth: ${error.message}\n`);
      return error.exitCode;
    }
    if (isHearthError(error)) {
      process.stderr.write(`hearth: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
