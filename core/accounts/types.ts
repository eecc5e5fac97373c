// What the accounts service (service.ts) returns and throws. The GatewayApi
// (core/api.ts) re-exports AccountView; the CLI and the API translate AccountError
// by its code (a usage error, exit 2; an ApiError).

/** An account as every interface shows it: never the password hash. */
export interface AccountView {
  name: string;
  addresses: string[];
  hasPassword: boolean;
}

export type AccountErrorCode =
  /** The name is not a valid login name. */
  | 'invalid-name'
  /** Empty, or too long. */
  | 'invalid-password'
  /** Not a plain address, or not in one of the local domains. */
  | 'invalid-address'
  /** Another account already receives this address. */
  | 'address-taken'
  /** A new account (or setAddresses) with no address at all. */
  | 'no-address'
  /** No account by that name. */
  | 'not-found'
  /** The change would make the config invalid for another reason (the file's own words). */
  | 'invalid-config';

export class AccountError extends Error {
  readonly code: AccountErrorCode;
  constructor(code: AccountErrorCode, message: string) {
    super(message);
    this.name = 'AccountError';
    this.code = code;
  }
}

export interface AddAccount {
  name: string;
  addresses: string[];
  password: string;
}

export interface AddResult {
  account: AccountView;
  /** False when the name existed: its password was replaced and the addresses added. */
  created: boolean;
}
