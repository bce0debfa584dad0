import { certifiedDevices, fingerprint, isAcceptableSigningKey, verifyDmPlaintextSignature, type DeviceRecord, type DmPlaintext, type VerifyFn } from '@hearth/protocol';

/** A person's published keys, as the backend's lookup returns them. */
export interface ProfileKeys {
  address: string;
  identityKey: string | null;
  devices: DeviceRecord[];
}

/** The lookup failed for a reason that may pass (a site down, a timeout): try the message again later. */
export class LookupUnavailable extends Error {}

/** The lookup answered for good (no such user, a bad address): messages that need it cannot be verified. */
export class LookupRefused extends Error {}

export interface Pins {
  get(address: string): string | undefined;
  set(address: string, identityKey: string): void;
}

interface Known {
  identityKey: string;
  /** Only the devices whose certificate verifies under the identity key. */
  devices: DeviceRecord[];
  signKeys: Map<string, string>;
}

/**
 * Decides whether a decrypted DM really comes from a certified device of the person it names,
 * as every device does (checkDmSender), with the vault's own trust anchors: its own identity key,
 * which it holds, and the identity keys of contacts, pinned on first use. Keys are looked up once
 * per person and again when a message names a device not seen yet.
 */
export class SenderCheck {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly me: { address: string; identityKey: string },
    private readonly lookup: (address: string) => Promise<ProfileKeys>,
    private readonly pins: Pins,
    private readonly verify: VerifyFn,
  ) {}

  /** The certified devices of `address` (mine when it is my address), looked up afresh when `refresh`. */
  async keysOf(address: string, refresh = false): Promise<Known> {
    const cached = this.known.get(address);
    if (cached && !refresh) return cached;
    const profile = await this.lookup(address);
    const identityKey = address === this.me.address ? this.me.identityKey : profile.identityKey;
    if (!identityKey) throw new LookupRefused(`${address} has no identity key`);
    if (!isAcceptableSigningKey(identityKey)) throw new LookupRefused(`${address} publishes an identity key that is not an acceptable Ed25519 key`);
    if (address !== this.me.address) {
      const pinned = this.pins.get(address);
      if (pinned && pinned !== identityKey) {
        throw new LookupRefused(`the identity key of ${address} changed (was ${fingerprint(address, pinned)}, now ${fingerprint(address, identityKey)})`);
      }
      if (!pinned) this.pins.set(address, identityKey);
    }
    const devices = certifiedDevices({ address, identityKey, devices: profile.devices }, this.verify).filter((d) => isAcceptableSigningKey(d.signKey));
    const known = { identityKey, devices, signKeys: new Map(devices.map((d) => [d.id, d.signKey])) };
    this.known.set(address, known);
    return known;
  }

  /** The signing keys of `address`'s certified devices, when already known (no lookup). */
  knownSignKeys(address: string): Map<string, string> | undefined {
    return this.known.get(address)?.signKeys;
  }

  /**
   * null when the message is genuine, else the reason it is not. Throws LookupUnavailable to retry
   * later. `verified` is a signature check already made elsewhere (a worker thread): it counts
   * only when it was made with the very key this check settles on; otherwise the signature is
   * checked here.
   */
  async check(plain: DmPlaintext, expected: { from: string; to: string }, verified?: { signKey: string; ok: boolean }): Promise<string | null> {
    if (plain.from !== expected.from) return `claims to be from ${plain.from}, but arrived from ${expected.from}`;
    if (plain.to !== expected.to) return `is addressed to ${plain.to}, not ${expected.to}`;
    try {
      let signKey = (await this.keysOf(expected.from)).signKeys.get(plain.fromDevice);
      if (!signKey) signKey = (await this.keysOf(expected.from, true)).signKeys.get(plain.fromDevice);
      if (!signKey) return `was signed by device ${plain.fromDevice}, which ${expected.from}'s identity key has not certified`;
      const ok = verified?.signKey === signKey ? verified.ok : verifyDmPlaintextSignature(plain, signKey, this.verify);
      if (!ok) return 'has a signature that does not verify';
      return null;
    } catch (error) {
      if (error instanceof LookupRefused) return error.message;
      throw error;
    }
  }
}
