import { PROTOCOL_VERSION, signRelayAdvert, type AgreementKeyPair, type Signer, type SiteName } from '@hearth/protocol';
import type { Db } from '../storage/db.js';
import { allMyRelays } from '../relay/store.js';

/**
 * The discovery document (/.well-known/hearth): what another site needs to link to this one, and
 * the relay part (PROTOCOL.md §9): the key relayed envelopes are sealed to and the relays this
 * site can be reached through, signed by the server key.
 */
export async function discoveryDocument(site: { origin: string; name: SiteName; serverSigner: Signer; relayKeys: AgreementKeyPair; db: Db }): Promise<Record<string, unknown>> {
  const { origin } = site;
  const relays = [...new Set((await allMyRelays(site.db)).map((r) => r.address))];
  const advert = { site: site.name, relayKey: site.relayKeys.publicKey, relays };
  return {
    software: 'hearth',
    version: '0.1.0',
    protocol: PROTOCOL_VERSION,
    site: site.name,
    serverKey: site.serverSigner.publicKey,
    relay: { key: advert.relayKey, relays, sig: signRelayAdvert(advert, site.serverSigner) },
    endpoints: {
      federation: `${origin.replace(/^http/, 'ws')}/federation`,
      inbox: `${origin}/federation/inbox`,
      relayFetch: `${origin}/federation/relay/fetch`,
      user: `${origin}/api/users/{username}`,
      posts: `${origin}/api/users/{username}/posts`,
    },
  };
}
