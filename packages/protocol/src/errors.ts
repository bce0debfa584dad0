/**
 * Every error that crosses a package boundary carries a stable `code` (documented in
 * docs/ERRORS.md), an HTTP status a server may answer with, and whether retrying the
 * same request later could help. Callers branch on `code`, never on `message`.
 */
export class HearthError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HearthError';
    this.code = code;
    this.status = options.status ?? 400;
    this.retryable = options.retryable ?? false;
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export class AddressError extends HearthError {
  constructor(message: string) {
    super('invalid_address', message, { status: 400 });
    this.name = 'AddressError';
  }
}

export class EnvelopeError extends HearthError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, { status });
    this.name = 'EnvelopeError';
  }
}

export class CryptoError extends HearthError {
  constructor(code: string, message: string) {
    super(code, message, { status: 400 });
    this.name = 'CryptoError';
  }
}
