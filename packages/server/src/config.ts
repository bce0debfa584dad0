/** The only module that reads process.env. */
export interface EnvSettings {
  logLevel: string;
  /** Overrides the interface `hearth start` listens on (default: loopback for dev sites, all interfaces otherwise). */
  listenHost: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  return {
    logLevel: env.HEARTH_LOG_LEVEL ?? 'info',
    listenHost: env.HEARTH_LISTEN_HOST || undefined,
  };
}
