export * from './vault-store.js';
