import { formatAddress, type Address, type Profile, type SiteName } from '@hearth/protocol';
import { notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { findUser, publicProfile } from '../storage/users.js';
import { remoteLookupError, type Directory } from './directory.js';

/** What a profile lookup needs of a site (a Context has all of it). */
export interface ProfileSource {
  db: Db;
  site: SiteName;
  directory: Directory;
}

/** A person's public profile with device keys, local or remote (for my devices, my vault, a relay's checks). */
export async function lookupProfile(source: ProfileSource, address: Address): Promise<Profile> {
  if (source.directory.isLocal(address)) {
    const user = await findUser(source.db, address.username);
    if (!user) throw notFound(`user ${formatAddress(address)}`);
    return publicProfile(source.db, source.site, user);
  }
  return (source.directory.profileOf(address) as Promise<Profile>).catch((error: unknown) => {
    throw remoteLookupError(error, address);
  });
}
