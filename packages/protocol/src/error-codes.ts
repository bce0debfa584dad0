/**
 * Every error code a Hearth site answers with (docs/ERRORS.md lists the same, and a test keeps
 * the two in step): its HTTP status, and whether sending the same thing later can help. A sender
 * decides whether to retry from this table, by code, not by guessing from the status alone.
 */
export interface ErrorCodeInfo {
  /** HTTP status; 0 where the code never travels over HTTP (a link-side condition). */
  status: number;
  retryable: boolean;
}

const no = (status: number): ErrorCodeInfo => ({ status, retryable: false });
const later = (status: number): ErrorCodeInfo => ({ status, retryable: true });

export const ERROR_CODES = {
  // Storage
  storage_full: later(507),
  // Requests and input
  invalid_request: no(400),
  invalid_json: no(400),
  too_deep: no(400),
  too_large: no(413),
  unsupported_media_type: no(415),
  invalid_address: no(400),
  invalid_cursor: no(400),
  not_found: no(404),
  cannot_follow_self: no(400),
  cannot_block_self: no(400),
  not_an_image: no(415),
  unknown_media: no(400),
  bad_setup_code: no(403),
  already_set_up: no(409),
  unknown_mention: no(400),
  bad_remote_answer: no(502),
  // Authentication and authorization
  unauthorized: no(401),
  invalid_credentials: no(401),
  rate_limited: later(429),
  forbidden: no(403),
  // Devices and direct messages
  identity_mismatch: no(409),
  bad_certificate: no(400),
  device_exists: no(409),
  too_many_devices: no(409),
  // Home vault
  bad_pairing_code: no(403),
  backup_required: no(400),
  no_vault: no(404),
  vault_offline: later(503),
  vault_timeout: later(504),
  // Calls
  not_allowed: no(403),
  turn_not_configured: no(404),
  // Other sites
  forbidden_address: no(400),
  insecure_url: no(400),
  unreachable: later(502),
  fetch_failed: later(502),
  bad_remote_key: later(502),
  // Envelopes
  invalid_envelope: no(400),
  invalid_data: no(400),
  unsupported_version: no(400),
  unknown_type: no(400),
  not_local: no(404),
  unknown_user: no(404),
  forged_from: no(403),
  unknown_sender: no(401),
  bad_sender_key: no(401),
  bad_signature: no(401),
  key_unknown: later(401),
  clock_skew: later(400),
  expired: later(400),
  duplicate_envelope: no(409),
  duplicate_message: no(409),
  unknown_post: no(404),
  unknown_comment: no(404),
  id_taken: no(409),
  link_closed: later(0),
  // Friends relay (PROTOCOL.md §9)
  relay_not_allowed: no(403),
  relay_not_served: no(403),
  hop_limit: no(400),
  bad_seal: no(400),
  relay_rate_limited: later(429),
  relay_queued: later(503),
  relay_unreachable: later(502),
  no_relay_path: later(502),
  relay_fetch_refused: no(403),
  // Hosting service (issue 12)
  invalid_domain: no(400),
  domain_taken: no(409),
  dns_not_ready: later(409),
  unknown_site: no(404),
  site_suspended: later(503),
  site_in_use: later(409),
  site_deleted: no(410),
  backup_elsewhere: no(409),
  quota_exceeded: later(429),
  storage_quota_exceeded: no(507),
  internal: later(500),
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether an error answer (by code, else by status) can succeed if the same thing is sent later. */
export function isRetryableAnswer(code: string | undefined, status?: number): boolean {
  if (code !== undefined && Object.prototype.hasOwnProperty.call(ERROR_CODES, code)) return ERROR_CODES[code as ErrorCode].retryable;
  return status !== undefined && (status >= 500 || status === 429 || status === 408);
}

/** Refusals that mean "our clocks disagree" (PROTOCOL.md §4 step 4): retried, and dated again first. */
export const CLOCK_CODES: ReadonlySet<string> = new Set<ErrorCode>(['clock_skew', 'expired']);
