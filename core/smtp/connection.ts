// The adapter to smtp-server: everything in Postern that reaches into the library's
// internals is in this file, written against smtp-server 3.21.6 (SMTP_SERVER_VERSION).
// A different installed version fails at start (PosternServer's constructor), so an
// upgrade is a deliberate step: re-read each override below against the new source,
// then change the constant. test/integration covers each override.
//
// Postern's subclass of the library's connection, for behaviours it has no option for:
//  1. init(): no 100 ms "early talker" pause for trusted clients (internal networks,
//     trusted proxies). The pause catches spam bots that talk before the greeting;
//     for a trusted client it only caps throughput (~190 msg/s at 20 sessions).
//  2. send(): a reply text that already starts with an enhanced status code
//     (`5.7.1 …`) keeps it; the library would prefix its own generic one. Every reply
//     also passes the tap (ConnectionPolicy.onReply), which records the library's own.
//  3. AUTH only over TLS, whatever STARTTLS is set to: EHLO lists AUTH only on a
//     secure connection, and AUTH before TLS is 538 5.7.11. (The library lists AUTH
//     before TLS, and allows plaintext AUTH when STARTTLS is hidden or disabled.)
//  4. _parseAddressCommand(): our RFC 5321 path parser, which keeps the source
//     routes and quoted local parts that the relay policy and SPF must see.
//  5. handler_PROXY: a PROXY header from a peer that is not a trusted proxy is
//     refused and the connection closed (trusted ones are consumed before SMTP).
//  6. _onCommand(): remembers the verb of the last command, so that the tap can say
//     which command a library reply answers.
//  7. Deadlines (docs/design.md §2.8, RFC 5321 §4.5.3.2): _createParser() wraps the
//     parser's write() to see every byte the client sends, and checkLimits() (called by
//     the server's one timer) reads the parser's state (_dataMode, _remainder) and the
//     connection's (_handlerPending, _nextHandler, _dataStream, _upgrading) to bound a
//     command line, an AUTH exchange, the data rate and the session. The library's idle
//     timeout resets on every byte, so it alone cannot stop a trickle.
//  8. handler_MAIL / handler_RCPT: a parameter the listener does not advertise is
//     refused with 555 5.5.4 (RFC 5321 §4.1.1.11) before the library sees the command.
//  9. init(): the socket's own peer address is kept on the session (`peerAddress`), so
//     that onConnect can tell a proxied client from the proxy (§2.3).
// And the server: connect() is the library's, building a PosternConnection instead
// (with a session id that sorts by time); _handleProxy() skips the library's own random
// id for a connection without a PROXY header (connect() replaces it anyway, and its
// unpooled randomBytes cost ~11 µs per connection); one interval timer checks every
// connection's deadlines (SessionLimits).
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import crypto from 'node:crypto';
import type net from 'node:net';
import smtpServerPackage from 'smtp-server/package.json' with { type: 'json' };
import { parseMailbox, type Mailbox } from '../policy/address.ts';
import { unmapIPv4 } from '../net/cidr.ts';
import type { Decision } from './decision.ts';
import { DEFAULT_SESSION_LIMITS, SessionClock, type SessionLimits } from './session-limits.ts';

export interface ParsedPath {
  address: string;
  args: Record<string, string | true> | false;
  duplicate?: string;
  /** Our parse of the path; null for the null path `<>`. */
  mailbox: Mailbox | null;
}

/** What the gateway tells connections about a peer. */
export interface ConnectionPolicy {
  /** Skip the early-talker pause for this peer. */
  isTrusted(ip: string): boolean;
  /** Called for every reply sent: the transcript source for events. */
  onReply?(conn: PosternConnection, code: number, text: string): void;
  /** A PROXY header arrived from a peer that is not a trusted proxy; `code text` is the refusal about to be sent. */
  onUntrustedProxy?(conn: PosternConnection, code: number, text: string): void;
}

/** What the server adds to the library's options: connection-level limits and where their refusals go. */
export interface ConnectionLimits {
  limits: SessionLimits;
  /**
   * A refusal the connection makes itself (a deadline, an unsupported parameter): record it
   * as an event (and mark the reply as answered); the connection then sends `code text`.
   */
  onRefusal?(conn: PosternConnection, d: Decision): void;
  /**
   * Asked on each tick about every open session (submission listeners, docs/design.md
   * §2.8): a Decision closes the session with it (SmtpHooks.authDeadline).
   */
  authDeadline?(session: never, now: number): Decision | null;
}

/** How often every connection's deadlines are checked. */
export const LIMITS_TICK_MS = 250;

/** The version of smtp-server this adapter was written against. */
export const SMTP_SERVER_VERSION = '3.21.6';

/** Replies the library writes itself when a hook accepts (smtp-server-connection.js, sasl.js). */
export const LIBRARY_OK = {
  mail: { code: 250, text: 'Accepted' },
  rcpt: { code: 250, text: 'Accepted' },
  auth: { code: 235, text: 'Authentication successful' },
} as const;

/** The installed smtp-server's version (its package.json). */
export function installedSmtpServerVersion(): string {
  return smtpServerPackage.version;
}

/** Throws unless `v` is the version this adapter was written against. */
export function assertLibraryVersion(v = installedSmtpServerVersion()): void {
  if (v !== SMTP_SERVER_VERSION) {
    throw new Error(
      `core/smtp/connection.ts was written against smtp-server ${SMTP_SERVER_VERSION}, but ${v} is installed: check each override there against the new version, then update SMTP_SERVER_VERSION`,
    );
  }
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}(\s|$)/;
const VERBS = new Set([
  'HELO',
  'EHLO',
  'LHLO',
  'MAIL',
  'RCPT',
  'DATA',
  'BDAT',
  'RSET',
  'NOOP',
  'QUIT',
  'VRFY',
  'EXPN',
  'HELP',
  'STARTTLS',
  'AUTH',
  'ETRN',
  'PROXY',
  'XCLIENT',
  'XFORWARD',
]);
const CONTROL = /[\x00-\x1F\x7F]/;

function decodeXtext(v: string): string {
  return v.replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export class PosternConnection extends SMTPConnection {
  /** The verb of the last command received (for events about replies the library makes). */
  lastCommand = '';

  /** Deadlines of this connection (7.); created lazily: _createParser runs inside the library's constructor. */
  private clockState: SessionClock | null = null;
  /** A limit refused this connection: nothing more is checked. */
  private limited = false;

  private get policy(): ConnectionPolicy {
    return (this._server as unknown as PosternServer).policy;
  }

  private get extras(): ConnectionLimits {
    return (this._server as unknown as PosternServer).extras;
  }

  private get clock(): SessionClock {
    this.clockState ??= new SessionClock(this.extras.limits, Date.now());
    return this.clockState;
  }

  // 7.
  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = super._createParser();
    const write = parser.write;
    parser.write = ((chunk: Buffer, ...rest: unknown[]) => {
      if (chunk?.length) this.clock.bytes(chunk.length, parser._dataMode, Date.now());
      return (write as (...a: unknown[]) => boolean).call(parser, chunk, ...rest);
    }) as typeof parser.write;
    return parser;
  }

  /** Called by the server's timer: refuses the connection when one of its deadlines passed. */
  checkLimits(now = Date.now()): void {
    if (this.limited || this._closing || this._closed || !this._ready) return;
    const late = this.extras.authDeadline?.(this.session as never, now);
    if (late) return this.refuse(late);
    const parser = this._parser || undefined; // false once the socket closed
    const breach = this.clock.check(now, {
      busy: this._handlerPending || this._upgrading || Boolean(this._dataStream && parser && !parser._dataMode),
      dataMode: Boolean(parser?._dataMode),
      // the parser waits for the message stream to drain: we are slow, not the client
      backpressure: Boolean(parser?._dataMode && parser.writableLength > 0),
      partialLine: Boolean(parser && !parser._dataMode && parser._remainder),
      inAuth: Boolean(this._nextHandler),
    });
    if (breach) this.refuse({ ...breach, rule: 'session limits', code: 421 });
  }

  /** Records `d` (through the server's onRefusal) and sends its reply; a 421 closes. */
  refuse(d: Decision): void {
    if (d.code === 421) this.limited = true;
    this.extras.onRefusal?.(this, d);
    this.send(d.code, d.text);
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    this.clock.lineDone();
    // Only known verbs are kept: any other line (an AUTH continuation, a base64 password
    // sent after a refused AUTH) may be a credential.
    if (!this._nextHandler) {
      const verb = /^[A-Za-z]{4,8}/.exec(command.toString('latin1', 0, 16))?.[0].toUpperCase() ?? '';
      this.lastCommand = VERBS.has(verb) ? verb : '';
    }
    super._onCommand(command, callback);
  }

  // 1. (and 9.)
  override init(): void {
    (this.session as PeerSession).peerAddress = unmapIPv4(this._socket.remoteAddress ?? '');
    if (!this.policy.isTrusted(this.remoteAddress)) return super.init();
    this._setListeners(() => {
      const max = this._server.options.maxClients;
      if (max && this._server.connections.size > max) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      this.connectionReady();
    });
  }

  // 2.
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (typeof data === 'string' && ENHANCED.test(data)) context = false;
    super.send(code, data, context);
    const text = Array.isArray(data) ? data.join(' / ') : (data ?? '');
    this.policy.onReply?.(this, code, text);
  }

  // 3.
  private listingFeatures = false;
  override _isSupported(command: string): boolean {
    if (this.listingFeatures && !this.secure && String(command).toUpperCase() === 'AUTH') return false;
    return super._isSupported(command);
  }
  override handler_EHLO(command: Buffer, callback: () => void): void {
    this.listingFeatures = true;
    try {
      super.handler_EHLO(command, callback);
    } finally {
      this.listingFeatures = false;
    }
  }
  override handler_AUTH(command: Buffer, callback: () => void): void {
    if (!this.secure) {
      this.send(538, '5.7.11 Encryption required: use STARTTLS before AUTH');
      return callback();
    }
    super.handler_AUTH(command, callback);
  }

  // 4.
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): never {
    return parseAddressCommand(rawName, String(rawCommand ?? '')) as never;
  }

  // 8.
  override handler_MAIL(command: Buffer, callback: () => void): void {
    if (this.refuseParameters('MAIL FROM', command, callback)) return;
    super.handler_MAIL(command, callback);
  }
  override handler_RCPT(command: Buffer, callback: () => void): void {
    if (this.refuseParameters('RCPT TO', command, callback)) return;
    super.handler_RCPT(command, callback);
  }
  private refuseParameters(name: 'MAIL FROM' | 'RCPT TO', command: Buffer, callback: () => void): boolean {
    const raw = String(command ?? '');
    const line = raw.trimEnd();
    // No parameters: one '>' and nothing after it — skip the second parse (~15 µs of a
    // message's MAIL and RCPT, docs/benchmarks.md).
    const gt = line.indexOf('>');
    if (gt === line.length - 1 && gt === line.lastIndexOf('>')) return false;
    const parsed = parseAddressCommand(name, raw);
    if (parsed === false || !parsed.args) return false; // the library answers a syntax error
    const bad = unsupportedParameters(name, parsed.args, this._server.options);
    if (!bad.length) return false;
    const mail = name === 'MAIL FROM';
    this.refuse({
      stage: mail ? 'mail' : 'rcpt',
      rule: 'smtp parameters',
      reason: `unsupported ${name.split(' ')[0]} parameter ${bad.join(', ')}`.slice(0, 200),
      ...(mail ? { from: parsed.address } : { to: parsed.address }),
      code: 555,
      text: '5.5.4 Unsupported parameter',
    });
    callback();
    return true;
  }

  // 5.
  handler_PROXY(_command: Buffer, callback: () => void): void {
    const text = '4.7.0 PROXY protocol is accepted only from trusted proxies';
    this.policy.onUntrustedProxy?.(this, 421, text);
    this.send(421, text);
    callback();
  }
}

/** The session field set by init() (9.): the address the socket really comes from. */
export interface PeerSession {
  peerAddress?: string;
}

/**
 * The parameters a command may carry: exactly the extensions the library advertises in
 * EHLO (its handler_EHLO) and checks (its _validateMailParams and handler_RCPT):
 * SIZE, 8BITMIME (BODY), SMTPUTF8, AUTH (RFC 4954 §5), REQUIRETLS (RFC 8689, unless
 * hidden), and DSN's RET/ENVID and NOTIFY/ORCPT (RFC 3461, unless hideDSN).
 */
export function unsupportedParameters(name: 'MAIL FROM' | 'RCPT TO', args: Record<string, unknown>, options: SMTPServerOptions): string[] {
  const o = options as SMTPServerOptions & { hideDSN?: boolean; hideREQUIRETLS?: boolean; hideSMTPUTF8?: boolean; hide8BITMIME?: boolean };
  const allowed = new Set<string>();
  if (name === 'MAIL FROM') {
    allowed.add('SIZE').add('AUTH');
    if (!o.hide8BITMIME) allowed.add('BODY');
    if (!o.hideSMTPUTF8) allowed.add('SMTPUTF8');
    if (!o.hideREQUIRETLS) allowed.add('REQUIRETLS');
    if (!o.hideDSN) allowed.add('RET').add('ENVID');
  } else if (!o.hideDSN) {
    allowed.add('NOTIFY').add('ORCPT');
  }
  return Object.keys(args).filter((k) => !allowed.has(k));
}

/**
 * Parses `MAIL FROM:<path> params` / `RCPT TO:<path> params`. Returns false for a
 * syntax error (smtp-server then replies 501).
 */
export function parseAddressCommand(rawName: string, command: string): ParsedPath | false {
  const name = rawName.trim().toUpperCase();
  const colon = command.indexOf(':');
  if (colon < 0 || command.slice(0, colon).trim().toUpperCase().replace(/\s+/g, ' ') !== name) return false;
  let rest = command.slice(colon + 1).trimStart();
  if (!rest.startsWith('<')) return false;
  // Find the closing '>' outside a quoted string.
  let i = 1;
  let inQuote = false;
  for (; i < rest.length; i++) {
    const c = rest[i];
    if (inQuote && c === '\\') i++;
    else if (c === '"') inQuote = !inQuote;
    else if (c === '>' && !inQuote) break;
  }
  if (i >= rest.length) return false;
  const inner = rest.slice(1, i);
  rest = rest.slice(i + 1);
  if (rest && !/^\s/.test(rest)) return false;

  let args: Record<string, string | true> | false = false;
  let duplicate: string | undefined;
  for (const param of rest.trim().split(/\s+/).filter(Boolean)) {
    const eq = param.indexOf('=');
    const key = (eq < 0 ? param : param.slice(0, eq)).toUpperCase();
    if (!key) continue;
    let value: string | true = eq < 0 ? true : decodeXtext(param.slice(eq + 1));
    if (value === '') value = true;
    if (typeof value === 'string' && CONTROL.test(value)) return false;
    args ||= {};
    if (key in args) duplicate = key;
    args[key] = value;
  }

  if (inner === '') {
    if (name !== 'MAIL FROM') return false;
    return { address: '', args, mailbox: null, ...(duplicate ? { duplicate } : {}) };
  }
  const mailbox = parseMailbox(inner);
  if (!mailbox) return false;
  return { address: mailbox.address, args, mailbox, ...(duplicate ? { duplicate } : {}) };
}

/** SMTPServer that builds PosternConnections and knows the gateway's policy. */
export class PosternServer extends SMTPServer {
  policy: ConnectionPolicy;
  extras: ConnectionLimits;
  private readonly limitsTimer: NodeJS.Timeout;

  constructor(options: SMTPServerOptions, policy: ConnectionPolicy, extras: ConnectionLimits = { limits: DEFAULT_SESSION_LIMITS }) {
    assertLibraryVersion();
    super(options);
    this.policy = policy;
    this.extras = extras;
    // One timer for every connection of this server (7.).
    this.limitsTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) (c as PosternConnection).checkLimits(now);
    }, LIMITS_TICK_MS);
    this.limitsTimer.unref();
  }

  /** Sessions open, and sockets still in their TLS handshake or PROXY header. */
  openCount(): number {
    return this.connections.size + (this as unknown as { _pendingSockets: Map<unknown, unknown> })._pendingSockets.size;
  }

  /** Options smtp-server reads per connection, changed on a running server (a settings change, docs/design.md §7.1). */
  setLiveOptions(o: Pick<SMTPServerOptions, 'name' | 'size' | 'maxRecipients' | 'socketTimeout'>): void {
    Object.assign(this.options, o);
  }

  override close(callback?: () => void): void {
    clearInterval(this.limitsTimer);
    super.close(callback);
  }

  // The library's branch for a socket that sends no PROXY header, less its id.
  override _handleProxy(socket: net.Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    if (this._expectsProxyHeader(socket)) return super._handleProxy(socket, callback);
    const ignore = this.options.ignoredHosts?.includes(socket.remoteAddress ?? '');
    setImmediate(() => callback(null, { id: '', ignore })); // connect() gives it its id
  }

  override connect(socket: net.Socket, socketOptions: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new PosternConnection(this, socket, { ...socketOptions, id: sessionId() });
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: unknown) => this._onClientConnect(data as never));
    connection.init();
  }
}

/**
 * A session id in the library's form (16 characters of base32) that sorts by time: the
 * milliseconds since 1970, then 35 random bits. The history index keys events and
 * transactions by session (docs/design.md §4.4); ids that grow keep those inserts at
 * the end of the index instead of on random pages — a sixth of the index's cost under
 * load (docs/benchmarks.md).
 */
export function sessionId(now = Date.now()): string {
  const random = crypto.randomInt(2 ** 35).toString(32);
  return now.toString(32).padStart(9, '0') + random.padStart(7, '0');
}

/** Postern's hooks, typed as the adapter calls them (addresses are our ParsedPath). */
export interface PosternHooks {
  onConnect: NonNullable<SMTPServerOptions['onConnect']>;
  onSecure?(socket: { getProtocol?: () => string | null }, session: never, cb: (err?: Error | null) => void): void;
  onAuth?: SMTPServerOptions['onAuth'];
  onMailFrom(address: ParsedPath, session: never, cb: (err?: Error | null) => void): void;
  onRcptTo(address: ParsedPath, session: never, cb: (err?: Error | null) => void): void;
  onData?: SMTPServerOptions['onData'];
  onClose: NonNullable<SMTPServerOptions['onClose']>;
  /** Records a refusal the connection makes itself (ConnectionLimits.onRefusal). */
  onRefusal?(conn: PosternConnection, d: Decision): void;
  /**
   * Asked on each tick about every open session (submission listeners, docs/design.md
   * §2.8): a Decision closes the session with it (SmtpHooks.authDeadline).
   */
  authDeadline?(session: never, now: number): Decision | null;
}

/**
 * The hooks as smtp-server options. The one cast: the library declares its own address
 * type, but with override 4 above, what it hands to onMailFrom/onRcptTo is a ParsedPath.
 */
export function hookOptions(h: PosternHooks): Partial<SMTPServerOptions> {
  return {
    onConnect: h.onConnect,
    onSecure: h.onSecure as SMTPServerOptions['onSecure'],
    onAuth: h.onAuth,
    onMailFrom: h.onMailFrom as unknown as SMTPServerOptions['onMailFrom'],
    onRcptTo: h.onRcptTo as unknown as SMTPServerOptions['onRcptTo'],
    onData: h.onData,
    onClose: h.onClose,
  };
}
