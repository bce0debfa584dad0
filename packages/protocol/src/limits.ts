/** Limits every implementation enforces; PROTOCOL.md lists them. */
export const LIMITS = {
  /** One envelope, as UTF-8 JSON. Large enough for a DM to 50 devices. */
  envelopeBytes: 64 * 1024,
  /**
   * One relay envelope (PROTOCOL.md §9): an envelope of up to envelopeBytes, sealed for its
   * destination site and base64url-encoded (4/3), with room for the wrapping.
   */
  relayEnvelopeBytes: 96 * 1024,
  /** Relay sites one envelope may pass through: 1 by default, never more than this. */
  relayHops: 2,
  /**
   * Envelopes one relay envelope may carry to one site (sealed together as a JSON array of at
   * most envelopeBytes + 1024 bytes): a relay's cost is per relay envelope, so a burst to one
   * site costs it one seal, one signature and one hop, not one per envelope.
   */
  relayBatch: 64,
  /** Nesting of an envelope's JSON; the deepest legitimate message nests 5 levels. */
  envelopeDepth: 16,
  /** The shortest password a site accepts. */
  passwordMinChars: 8,
  postChars: 5000,
  commentChars: 2000,
  /** A content warning: the short line shown instead of a post until the reader opens it. */
  contentWarningChars: 200,
  /** People one post may mention (each gets a signed `mention`). */
  mentions: 10,
  dmChars: 5000,
  displayNameChars: 100,
  bioChars: 1000,
  urlChars: 2000,
  /** Images on one post, and the length of each one's description. */
  attachments: 4,
  altChars: 1500,
  /** Bytes of one uploaded image, before it is re-encoded. */
  uploadBytes: 10 * 1024 * 1024,
  /** Devices one DM may be encrypted to (recipient's plus sender's own). */
  dmRecipients: 50,
  /**
   * Sealed DMs one `POST /api/dms/batch` may carry, and that request's bytes: a device with
   * messages waiting (a script, a device back online) sends them in a few requests, not one each.
   */
  dmBatch: 100,
  dmBatchBytes: 1024 * 1024,
} as const;
