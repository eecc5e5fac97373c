// The API's error (docs/design.md §7.1): its own module, so that the parts below the
// API (LiveConfig) can refuse a change in the API's terms without importing the contract.
/** `needs-confirmation`: the change is allowed only when asked again with a confirmation; the message says what it means. */
export type ApiErrorCode = 'invalid-input' | 'needs-confirmation' | 'not-found' | 'conflict' | 'unavailable' | 'unauthorized' | 'internal';

/** The error envelope's error; its `code` survives both transports. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}
