// The config file of docs/design.md §8.2: its types, its JSON Schema (shared with the desktop
// app's electron-store file) and its defaults. Missing keys take the schema's defaults.

export type ListenerMode = 'mx' | 'submission' | 'submissions';

/** An account's login name: what the file allows, and what the accounts service checks first. */
export const ACCOUNT_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';

export interface Account {
  name: string;
  addresses: string[];
  /** Further addresses (in local domains) this account may send as: shared ones such as family@ (docs/design.md §2.1). */
  sendAs?: string[];
  passwordHash?: string;
  /** Blocked (docs/design.md §2.13): the account may not send (a leaked password); mail to it still arrives. */
  blocked?: boolean;
}

/**
 * An address delivered to several accounts, each getting its own copy (`family@`,
 * docs/design.md §2.1, §8.2); each of those accounts may also send as it.
 */
export interface SharedAddress {
  address: string;
  accounts: string[];
}

export interface InternalNetwork {
  cidr: string;
  label: string;
  enabled: boolean;
}

export interface Listener {
  port: number;
  host: string;
  mode: ListenerMode;
  /**
   * Where to listen when `port` (below 1024) is refused for lack of privileges
   * (docs/design.md §2); absent: 25 → 2525, 587 → 2587, 465 → 2465, else 2000 + port.
   */
  fallbackPort?: number;
}

/** ACME directories known by name (docs/design.md §2.5); `acme.directory` may also be any URL. */
export const ACME_DIRECTORIES: Record<string, string> = {
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
};
export const ACME_DIRECTORY_NAMES = Object.keys(ACME_DIRECTORIES);

export interface Config {
  hostname: string;
  publicAddress: string | null;
  domains: string[];
  accounts: Account[];
  /** Addresses delivered to several accounts (docs/design.md §8.2). */
  sharedAddresses: SharedAddress[];
  auth: {
    backend: 'builtin' | 'saslauthd';
    saslauthd: { socket: string; service: string; realm: string };
    maxFailures: number;
    banSeconds: number;
    maxNetworkFailures: number;
  };
  listeners: Listener[];
  internalNetworks: InternalNetwork[];
  trustedProxies: string[];
  spf: { enabled: boolean; header: 'spf' | 'auth' | 'both' | 'none'; policy: 'soft' | 'strict' };
  tls: { certFile: string | null; keyFile: string | null };
  /** Built-in ACME (docs/design.md §2.5): a certificate for `hostname`, issued and renewed by Postern. */
  acme: {
    enabled: boolean;
    /** `letsencrypt-staging`, `letsencrypt`, or the https URL of any ACME directory. */
    directory: string;
    email: string;
    challenge: 'http-01' | 'dns-01';
    /** The HTTP-01 responder's port, open only while a certificate is being issued. */
    httpPort: number;
    /** An extra CA (PEM file) to trust for the ACME server itself: private CAs, tests. */
    caFile: string | null;
  };
  dns: { servers: string[]; timeoutMs: number };
  outbound: {
    mode: 'smarthost' | 'mx';
    smarthost: {
      host: string;
      port: number;
      secure: boolean;
      requireTLS: boolean;
      user: string;
      /** Plain text here: a password sealed by the desktop app that could not be opened is '' (core/config/secrets.ts). */
      password: string;
      /** Set when the file holds the password sealed by the desktop app's keychain and it could not be opened (docs/design.md §8.2). */
      passwordSealed?: true;
      /** A CA certificate (PEM file) trusted for the smarthost besides the public ones: a private or self-signed certificate (docs/design.md §3.3). */
      caFile: string | null;
    };
    /** Port of remote MX hosts (25; another value only for tests and special set-ups). */
    mxPort: number;
  };
  dkim: { selector: string };
  limits: {
    maxMessageBytes: number;
    /** Below this much free space in the data dir, MAIL FROM gets 452 4.3.1 (docs/design.md §3.6). */
    minFreeBytes: number;
    /** Header section bounds, counted while DATA streams (docs/design.md §2.8). */
    maxHeaderLines: number;
    maxHeaderBytes: number;
    maxRecipients: number;
    maxClients: number;
    maxConnectionsPerClient: number;
    maxConnectionsPerNetwork: number;
    maxSubmissionClients: number;
    reservedInternalSlots: number;
    submissionAuthSeconds: number;
    idleTimeoutSeconds: number;
    commandSeconds: number;
    sessionSeconds: number;
    minDataRate: number;
    dataRateWindowSeconds: number;
    maxUnknownRecipients: number;
  };
  /** The history index of the live log (docs/design.md §4.4). */
  history: { retentionDays: number };
  /** The daily summary mailed to the postmaster account (docs/design.md §4.5). */
  summary: { daily: boolean; hour: number };
  /** DMARC enforced for Internet mail (docs/design.md §2.10); false: reported only. */
  dmarc: { enforce: boolean };
  /** DNS blocklists, checked for Internet clients and refused at RCPT (docs/design.md §2.11). */
  dnsbl: { zones: { zone: string; weight: number }[]; threshold: number; allow: string[]; allowAddresses: string[] };
  /** Spam scoring by rspamd over its HTTP protocol (docs/design.md §2.12). */
  rspamd: { enabled: boolean; url: string; timeoutMs: number; onUnreachable: 'accept' | 'defer' };
  /** Postern's own greylisting of Internet clients at RCPT (docs/design.md §2.14). */
  greylist: { enabled: boolean; delayMinutes: number; expireDays: number };
  /** Rate limits (docs/design.md §2.13); 0 turns one off. */
  rateLimits: {
    connectionsPerMinute: number;
    networkConnectionsPerMinute: number;
    messagesPerMinute: number;
    networkMessagesPerMinute: number;
    accountMessagesPerHour: number;
    accountRecipientsPerHour: number;
  };
  dashboard: { host: string; port: number };
}

export const LOOPBACK_NETWORKS: InternalNetwork[] = [
  { cidr: '127.0.0.0/8', label: 'This computer', enabled: true },
  { cidr: '::1/128', label: 'This computer', enabled: true },
];

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const str = { type: 'string' } as const;

/** JSON Schema (draft-07 subset that ajv and electron-store both read). */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: str,
    hostname: { type: 'string', minLength: 1, default: 'localhost' },
    publicAddress: { type: ['string', 'null'], default: null },
    domains: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    accounts: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: ACCOUNT_NAME_PATTERN },
          addresses: { type: 'array', items: { type: 'string', minLength: 3 }, default: [] },
          sendAs: { type: 'array', items: { type: 'string', minLength: 3 } },
          passwordHash: str,
          blocked: { type: 'boolean' },
        },
      },
    },
    sharedAddresses: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['address', 'accounts'],
        properties: {
          address: { type: 'string', minLength: 3 },
          accounts: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        backend: { enum: ['builtin', 'saslauthd'], default: 'builtin' },
        saslauthd: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            socket: { type: 'string', default: '/run/saslauthd/mux' },
            service: { type: 'string', default: 'smtp' },
            realm: { type: 'string', default: '' },
          },
        },
        maxFailures: { type: 'integer', minimum: 1, default: 5 },
        banSeconds: { type: 'integer', minimum: 1, default: 900 },
        // Failed logins from one IPv4 /24 or IPv6 /48 within 15 minutes before the network is banned (§2.4).
        maxNetworkFailures: { type: 'integer', minimum: 1, default: 20 },
      },
    },
    listeners: {
      type: 'array',
      default: [
        { port: 25, host: '::', mode: 'mx' },
        { port: 587, host: '::', mode: 'submission' },
        { port: 465, host: '::', mode: 'submissions' },
      ],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port', 'mode'],
        properties: {
          port,
          host: { type: 'string', default: '::' },
          mode: { enum: ['mx', 'submission', 'submissions'] },
          fallbackPort: { type: 'integer', minimum: 1, maximum: 65535 },
        },
      },
    },
    internalNetworks: {
      type: 'array',
      default: LOOPBACK_NETWORKS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['cidr'],
        properties: {
          cidr: str,
          label: { type: 'string', default: '' },
          enabled: { type: 'boolean', default: false },
        },
      },
    },
    trustedProxies: { type: 'array', items: str, default: [] },
    spf: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        header: { enum: ['spf', 'auth', 'both', 'none'], default: 'both' },
        policy: { enum: ['soft', 'strict'], default: 'soft' },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        certFile: { type: ['string', 'null'], default: null },
        keyFile: { type: ['string', 'null'], default: null },
      },
    },
    acme: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        directory: { type: 'string', minLength: 1, default: 'letsencrypt-staging' },
        email: { type: 'string', default: '' },
        challenge: { enum: ['http-01', 'dns-01'], default: 'http-01' },
        httpPort: { ...port, default: 80 },
        caFile: { type: ['string', 'null'], default: null },
      },
    },
    dns: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        servers: { type: 'array', items: str, default: [] },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 5000 },
      },
    },
    outbound: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['smarthost', 'mx'], default: 'smarthost' },
        mxPort: { ...port, default: 25 },
        smarthost: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            host: { type: 'string', default: '' },
            port: { ...port, default: 587 },
            secure: { type: 'boolean', default: false },
            // With secure=false: STARTTLS is required (never send the password in clear).
            requireTLS: { type: 'boolean', default: true },
            user: { type: 'string', default: '' },
            // Plain, or sealed by the desktop app's keychain: { "safeStorage": "<base64>" } (docs/design.md §8.2).
            password: {
              anyOf: [
                { type: 'string' },
                { type: 'object', additionalProperties: false, required: ['safeStorage'], properties: { safeStorage: { type: 'string', minLength: 1 } } },
              ],
              default: '',
            },
            caFile: { type: ['string', 'null'], default: null },
          },
        },
      },
    },
    dkim: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        selector: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,62}$', default: 'postern' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxMessageBytes: { type: 'integer', minimum: 1024, default: 26214400 },
        // Postfix's queue_minfree (docs/design.md §3.6): 200 MB.
        minFreeBytes: { type: 'integer', minimum: 0, default: 209715200 },
        // The header section (docs/design.md §2.8): far above real mail, far below what makes
        // header parsers slow (mailauth joins continuation lines quadratically).
        maxHeaderLines: { type: 'integer', minimum: 100, maximum: 100000, default: 1000 },
        maxHeaderBytes: { type: 'integer', minimum: 16384, maximum: 16777216, default: 262144 },
        maxRecipients: { type: 'integer', minimum: 1, default: 100 },
        // Slots (docs/design.md §2.8): mx listeners and submission listeners have budgets of
        // their own; the last reservedInternalSlots of each are for internal networks.
        maxClients: { type: 'integer', minimum: 1, default: 200 },
        maxSubmissionClients: { type: 'integer', minimum: 1, default: 50 },
        reservedInternalSlots: { type: 'integer', minimum: 0, default: 20 },
        // A stranger on a submission port that has not logged in after this long is closed
        // while the submission slots are 80 % taken (docs/design.md §2.8).
        submissionAuthSeconds: { type: 'integer', minimum: 1, default: 30 },
        // Per client IP, internal networks exempt (Postfix: smtpd_client_connection_count_limit).
        maxConnectionsPerClient: { type: 'integer', minimum: 1, default: 20 },
        // Per IPv4 /24 and IPv6 /48, internal networks exempt.
        maxConnectionsPerNetwork: { type: 'integer', minimum: 1, default: 40 },
        idleTimeoutSeconds: { type: 'integer', minimum: 5, default: 300 },
        // Deadlines (RFC 5321 §4.5.3.2, stricter): a command line or an AUTH exchange from its
        // first byte; the whole session; the average data rate inside DATA over a window.
        commandSeconds: { type: 'integer', minimum: 1, default: 60 },
        sessionSeconds: { type: 'integer', minimum: 1, default: 1800 },
        minDataRate: { type: 'integer', minimum: 0, default: 1024 },
        dataRateWindowSeconds: { type: 'integer', minimum: 1, default: 30 },
        // Directory harvest: 550 5.1.1 answers per session before 421.
        maxUnknownRecipients: { type: 'integer', minimum: 1, default: 20 },
      },
    },
    history: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Days of events and messages kept in log/index.sqlite (docs/design.md §4.4).
        retentionDays: { type: 'integer', minimum: 1, maximum: 3650, default: 30 },
      },
    },
    summary: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // A plain-text summary of the last 24 hours into the postmaster account's Maildir (docs/design.md §4.5).
        daily: { type: 'boolean', default: false },
        // The server's local hour it is stored at.
        hour: { type: 'integer', minimum: 0, maximum: 23, default: 7 },
      },
    },
    dmarc: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enforce: { type: 'boolean', default: true },
      },
    },
    dnsbl: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // No list by default: a public list's terms (and its resolvers) are the family's choice.
        zones: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['zone'],
            properties: { zone: { type: 'string', minLength: 1 }, weight: { type: 'number', minimum: 0, default: 1 } },
          },
        },
        threshold: { type: 'number', minimum: 0.001, default: 1 },
        allow: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
        allowAddresses: { type: 'array', items: str, default: [] },
      },
    },
    rspamd: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        url: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:11333' },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 120000, default: 15000 },
        onUnreachable: { enum: ['accept', 'defer'], default: 'accept' },
      },
    },
    greylist: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Off by default: it delays every new sender's first message (docs/design.md §2.14).
        enabled: { type: 'boolean', default: false },
        // A number: tests use a fraction of a minute.
        delayMinutes: { type: 'number', minimum: 0, maximum: 1440, default: 5 },
        expireDays: { type: 'number', minimum: 1, maximum: 3650, default: 35 },
      },
    },
    rateLimits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Per Internet client on the mx listeners, per minute (docs/design.md §2.13).
        connectionsPerMinute: { type: 'integer', minimum: 0, default: 60 },
        networkConnectionsPerMinute: { type: 'integer', minimum: 0, default: 200 },
        messagesPerMinute: { type: 'integer', minimum: 0, default: 30 },
        networkMessagesPerMinute: { type: 'integer', minimum: 0, default: 100 },
        // Per family account, per hour: far above what a family sends, far below a spam run.
        accountMessagesPerHour: { type: 'integer', minimum: 0, default: 200 },
        accountRecipientsPerHour: { type: 'integer', minimum: 0, default: 1000 },
      },
    },
    dashboard: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { ...port, default: 8025 },
      },
    },
  },
} as const;
