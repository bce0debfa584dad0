import path from 'node:path';

/**
 * systemd units for a hosting service (issue 12): the service itself, Caddy in front with the
 * Caddyfile `hearth service caddyfile` writes, and coturn for calls when `hearth service turn` set it up. Both run as an unprivileged user that owns the
 * service folder; Caddy gets only the capability to bind ports 80 and 443.
 */
export function systemdUnits(options: { dataDir: string; user: string; node: string; hearth: string; caddy: string; backendPort: number; coturn?: string }): Record<string, string> {
  const dataDir = path.resolve(options.dataDir);
  const unit = (description: string, after: string, requires: string[], service: string[]) =>
    [
      '[Unit]',
      `Description=${description}`,
      `After=${after}`,
      'Wants=network-online.target',
      ...requires,
      '',
      '[Service]',
      'Type=simple',
      `User=${options.user}`,
      `Group=${options.user}`,
      ...service,
      'Restart=on-failure',
      'RestartSec=2',
      'TimeoutStopSec=30',
      ...hardening,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n');
  const hardening = ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', `ReadWritePaths=${dataDir}`, 'PrivateTmp=yes', 'ProtectKernelTunables=yes', 'ProtectControlGroups=yes', 'RestrictSUIDSGID=yes'];
  return {
    'hearth.service': unit(`Hearth hosting service (${dataDir})`, 'network-online.target', [], [
      'Environment=MALLOC_ARENA_MAX=2',
      'Environment=MALLOC_MMAP_THRESHOLD_=32768',
      `ExecStart=${options.node} --max-semi-space-size=2 --heap-growing-percent=20 ${options.hearth} service start --data ${dataDir} --port ${options.backendPort}`,
    ]),
    'hearth-caddy.service': unit('Caddy in front of the Hearth hosting service (HTTPS, certificates on demand)', 'network-online.target hearth.service', ['Requires=hearth.service'], [
      `Environment=HOME=${dataDir}`,
      `ExecStart=${options.caddy} run --config ${path.join(dataDir, 'Caddyfile')} --adapter caddyfile`,
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    ]),
    ...(options.coturn
      ? { 'hearth-coturn.service': unit('coturn: the TURN relay for the calls of the Hearth hosting service\'s sites', 'network-online.target', [], [`ExecStart=${options.coturn} -c ${path.join(dataDir, 'turnserver.conf')}`]) }
      : {}),
  };
}
