import { describe, expect, it } from 'vitest';
import { CallSignalSchema, MAX_ICE_PER_SIGNAL, openCallSignal, sealCallSignal, type CallSignal } from './call.js';
import { certifyDevice, verifyDeviceCertificate, type DeviceSecrets } from './e2e.js';
import { generateAgreementKeyPair, generateSigningKeyPair } from './keys.js';

const device = (id: string): DeviceSecrets => ({ id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() });
const candidate = (n: number) => ({ candidate: `candidate:${n} 1 udp 2122260223 192.0.2.${n} 5${n}000 typ host`, sdpMid: '0', sdpMLineIndex: 0 });

describe('call signals', () => {
  const caller = device('caller-phone');
  const callee = device('callee-laptop');
  const identity = generateSigningKeyPair();
  const record = certifyDevice(identity, 'alice@a.example', { id: caller.id, signKey: caller.sign.publicKey, dhKey: caller.dh.publicKey });

  it('an offer carries its device certificate, which the callee checks under the pinned identity key before trusting the signal', () => {
    const sealed = sealCallSignal(caller, [{ id: callee.id, dhKey: callee.dh.publicKey }], { callId: 'c1', kind: 'offer', from: 'alice@a.example', to: 'bob@b.example', sdp: 'v=0', video: true, device: record });
    let seen: CallSignal | undefined;
    const signal = openCallSignal(sealed, callee, (id, opened) => {
      seen = opened;
      return opened.device?.id === id && verifyDeviceCertificate(identity.publicKey, opened.from, opened.device) ? opened.device.signKey : undefined;
    });
    expect(seen).toBe(signal);
    expect(signal.device).toEqual(record);
    // Under another identity key (not the pinned one) the carried device is not taken.
    expect(() => openCallSignal(sealed, callee, (id, opened) => (opened.device && verifyDeviceCertificate(generateSigningKeyPair().publicKey, opened.from, opened.device) ? opened.device.signKey : undefined))).toThrow(/not certified/);
  });

  it('a carried certificate for another device than the signer does not make the signature check out', () => {
    const other = device('other');
    const otherRecord = certifyDevice(identity, 'alice@a.example', { id: other.id, signKey: other.sign.publicKey, dhKey: other.dh.publicKey });
    // Signed by `caller`, but it claims to carry `other`'s record: the check uses the signer's id.
    const sealed = sealCallSignal(caller, [{ id: callee.id, dhKey: callee.dh.publicKey }], { callId: 'c1', kind: 'answer', from: 'alice@a.example', to: 'bob@b.example', sdp: 'v=0', device: otherRecord });
    expect(() => openCallSignal(sealed, callee, (id, opened) => (opened.device?.id === id ? opened.device.signKey : undefined))).toThrow(/not certified/);
  });

  it('ICE candidates travel in batches of up to MAX_ICE_PER_SIGNAL', () => {
    const batch = Array.from({ length: MAX_ICE_PER_SIGNAL }, (_, n) => candidate(n));
    const sealed = sealCallSignal(caller, [{ id: callee.id, dhKey: callee.dh.publicKey }], { callId: 'c1', kind: 'ice', from: 'alice@a.example', to: 'bob@b.example', candidates: batch });
    expect(openCallSignal(sealed, callee, (id) => (id === caller.id ? caller.sign.publicKey : undefined)).candidates).toEqual(batch);
    const base = { t: 'hearth-call-v1', callId: 'c1', kind: 'ice', from: 'a', to: 'b', fromDevice: 'd', sentAt: new Date().toISOString(), sig: 'x' };
    expect(CallSignalSchema.safeParse({ ...base, candidates: [...batch, candidate(99)] }).success).toBe(false);
    expect(CallSignalSchema.safeParse({ ...base, candidates: [] }).success).toBe(false);
    // One candidate, as browsers sent before batches, is still understood.
    expect(CallSignalSchema.safeParse({ ...base, candidate: candidate(1) }).success).toBe(true);
  });
});
