export * from './vault-store.js';
export * from './config.js';
export * from './pairing.js';
export * from './sender-check.js';
export * from './vault-link.js';
export * from './tunnel.js';
