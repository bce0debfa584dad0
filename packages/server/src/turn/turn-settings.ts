/**
 * The site's own STUN/TURN relay: Debian's coturn, configured by Hearth (turn/turn.ts). Browsers get short-lived
 * credentials from their own site (coturn's "TURN REST API": the username is "<expiry>:<user>"
 * and the password its HMAC-SHA1 under a secret coturn and the site share), so only the site's
 * logged-in users can relay through it, and a leaked credential dies within hours.
 *
 * (A module of its own: hearth.json's shape names these settings, and the TURN code reads and
 * writes hearth.json; neither needs to import the other for them.)
 */
export interface TurnSettings {
  /** The secret shared with coturn (static-auth-secret). */
  secret: string;
  /** STUN/TURN port, UDP and TCP. */
  port: number;
  /** Ports coturn relays media on. */
  minPort: number;
  maxPort: number;
  /** The public address, when the machine sits behind 1:1 NAT (most clouds). */
  externalIp?: string;
}

