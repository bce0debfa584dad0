export { buildApp } from './app.js';
export { Context, type ContextOptions } from './context.js';
export { readEnv } from './config.js';
export { createSiteConfig, loadSiteConfig, siteExists, normalizeSiteUrl, SiteConfigError, CONFIG_FILE, DB_FILE, type SiteConfig } from './site-config.js';
export { createUser, findUser, listUsernames } from './storage/users.js';
export { MIN_PASSWORD_LENGTH } from './auth/passwords.js';
export { enqueueEnvelope } from './outbox/outbox.js';
export { queueEnvelope } from './outbox/send.js';
export { startSite, type RunningSite } from './start.js';
