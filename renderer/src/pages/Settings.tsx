// Settings: every setting of the config file a family needs (docs/design.md §7.1, §8.2), one
// card per group, each saved on its own through saveSettings — checked by the file's rules,
// written, and in use at once (listeners rebound, certificate reloaded). The same page in
// the desktop window and the headless dashboard.
import { useState } from 'react';
import type { ListenerSetting, SmarthostTest } from '../api.ts';
import { useApp, useLoad } from '../hooks.ts';
import { ErrorLine } from '../components/Notice.tsx';
import { SettingsCard, splitList, TextField, Toggle, useDraft, useSave, wholeNumber, type CardProps } from './SettingsParts.tsx';
import { AcmeCard, AdvancedLimitsCard, DashboardCard, DnsCard, HistoryCard, LoginCard } from './SettingsMore.tsx';
import { BlocklistCard, DmarcCard, GreylistCard, RateLimitsCard, RspamdCard } from './SettingsInbound.tsx';

const MB = 1048576;

export function Settings() {
  const [settings, , setSettings] = useLoad('settings');
  const [accounts] = useLoad('accounts');
  const save = useSave(setSettings);
  if (settings.state === 'loading') return <p className="page-body muted">Loading…</p>;
  if (settings.state === 'error') return <ErrorLine error={settings} />;
  const s = settings.value;
  const names = accounts.state === 'ok' ? accounts.value.map((a) => a.name) : [];
  // Keyed by what was saved: a card's fields start again from the stored values after each save.
  return (
    <div className="page-body narrow settings">
      <h1>Settings</h1>
      <p className="lead">
        Each change is checked, saved to the configuration file and in use at once — no restart. Accounts and passwords are on the Accounts page, trusted
        networks on the Networks page.
      </p>
      <nav className="settings-toc" aria-label="Settings sections">
        {[
          'This server',
          'Domains',
          'Shared addresses',
          'Outgoing mail',
          'Listeners',
          'Trusted proxies',
          'Checks',
          'DMARC',
          'Blocklists',
          'Spam filter',
          'Greylisting',
          'Rate limits',
          'Limits',
          'Certificate',
          'Certificate files',
          'Logins',
          'DNS',
          'Dashboard',
          'History',
          'Advanced limits',
        ].map((t) => (
          <button
            key={t}
            type="button"
            className="link"
            onClick={() => {
              document.getElementById(`set-${t.replace(/\s+/g, '-').toLowerCase()}`)?.scrollIntoView({ block: 'start' });
            }}
          >
            {t}
          </button>
        ))}
      </nav>
      <div id="set-this-server">
        <ServerCard s={s} save={save} />
      </div>
      <div id="set-domains">
        <DomainsCard s={s} save={save} />
      </div>
      <div id="set-shared-addresses">
        <SharedCard s={s} save={save} names={names} />
      </div>
      <div id="set-outgoing-mail">
        <OutboundCard s={s} save={save} />
      </div>
      <div id="set-listeners">
        <ListenersCard s={s} save={save} />
      </div>
      <div id="set-trusted-proxies">
        <ProxiesCard s={s} save={save} />
      </div>
      <div id="set-checks">
        <ChecksCard s={s} save={save} />
      </div>
      <div id="set-dmarc">
        <DmarcCard s={s} save={save} />
      </div>
      <div id="set-blocklists">
        <BlocklistCard s={s} save={save} />
      </div>
      <div id="set-spam-filter">
        <RspamdCard s={s} save={save} />
      </div>
      <div id="set-greylisting">
        <GreylistCard s={s} save={save} />
      </div>
      <div id="set-rate-limits">
        <RateLimitsCard s={s} save={save} />
      </div>
      <div id="set-limits">
        <LimitsCard s={s} save={save} />
      </div>
      <div id="set-certificate">
        <AcmeCard s={s} save={save} />
      </div>
      <div id="set-certificate-files">
        <CertificateCard s={s} save={save} />
      </div>
      <div id="set-logins">
        <LoginCard s={s} save={save} />
      </div>
      <div id="set-dns">
        <DnsCard s={s} save={save} />
      </div>
      <div id="set-dashboard">
        <DashboardCard s={s} save={save} />
      </div>
      <div id="set-history">
        <HistoryCard s={s} save={save} />
      </div>
      <div id="set-advanced-limits">
        <AdvancedLimitsCard s={s} save={save} />
      </div>
    </div>
  );
}

export function ServerCard({ s, save, saveText }: CardProps & { saveText?: string }) {
  const [hostname, setHostname] = useDraft(s.config.hostname);
  const [pub, setPub] = useDraft(s.config.publicAddress ?? '');
  return (
    <SettingsCard
      title="This server"
      save={save}
      saveText={saveText}
      testId="settings-server"
      hint="The name other mail servers know this one by (it needs an A record, see the DNS records), and its Internet address when it sits behind a router."
      submit={() => ({ hostname: hostname.trim(), publicAddress: pub.trim() || null })}
    >
      <div className="field-row">
        <TextField label="Server name (host name)" value={hostname} onChange={setHostname} placeholder="mx.example-family.com" grow />
        <TextField label="Public IP address (optional)" value={pub} onChange={setPub} placeholder="203.0.113.7" />
      </div>
    </SettingsCard>
  );
}

export function DomainsCard({ s, save, saveText }: CardProps & { saveText?: string }) {
  const [text, setText] = useDraft(s.config.domains.join(' '));
  return (
    <SettingsCard
      title="Domains"
      save={save}
      saveText={saveText}
      testId="settings-domains"
      hint="Mail to addresses at these domains is delivered here. Several: separate them with spaces."
      submit={() => ({ domains: splitList(text) })}
    >
      <TextField label="Your domains" value={text} onChange={setText} placeholder="doe-family.com" grow />
    </SettingsCard>
  );
}

function SharedCard({ s, save, names }: CardProps & { names: string[] }) {
  const [rows, setRows] = useDraft(s.config.sharedAddresses);
  const [address, setAddress] = useState('');
  const set = (i: number, accounts: string[]) => setRows(rows.map((r, j) => (j === i ? { ...r, accounts } : r)));
  return (
    <SettingsCard
      title="Shared addresses"
      save={save}
      testId="settings-shared"
      hint="An address such as family@ that several accounts receive: each gets its own copy, and each may send as it."
      submit={() => {
        const more = address.trim() ? [{ address: address.trim(), accounts: names.slice() }] : [];
        return { sharedAddresses: [...rows, ...more] };
      }}
    >
      {rows.length === 0 && <p className="muted">None yet.</p>}
      {rows.map((r, i) => (
        <fieldset key={r.address} className="shared-row" data-testid="shared-address">
          <legend className="mono">{r.address}</legend>
          <div className="shared-accounts">
            {names.map((n) => (
              <Toggle
                key={n}
                label={n}
                checked={r.accounts.includes(n)}
                onChange={(on) => set(i, on ? [...r.accounts, n] : r.accounts.filter((x) => x !== n))}
              />
            ))}
            <button type="button" className="secondary small" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
              Remove {r.address}
            </button>
          </div>
        </fieldset>
      ))}
      <TextField
        label="Add a shared address (every account receives it; untick some after saving)"
        value={address}
        onChange={setAddress}
        placeholder={`family@${s.config.domains[0] ?? 'doe-family.com'}`}
        grow
      />
    </SettingsCard>
  );
}

type TlsMode = 'starttls' | 'tls' | 'none';

export function OutboundCard({ s, save, saveText }: CardProps & { saveText?: string }) {
  const { client } = useApp();
  const o = s.config.outbound;
  const [mode, setMode] = useDraft(o.mode);
  const [host, setHost] = useDraft(o.host);
  const [port, setPort] = useDraft(String(o.port));
  const [tls, setTls] = useDraft<TlsMode>(o.secure ? 'tls' : o.requireTLS ? 'starttls' : 'none');
  const [user, setUser] = useDraft(o.user);
  const [password, setPassword] = useState('');
  const [forget, setForget] = useState(false);
  const [test, setTest] = useState<SmarthostTest | { running: true } | { error: string } | null>(null);
  const smart = () => {
    const p = wholeNumber(port, 'Port', 1);
    if (typeof p === 'string') return p;
    return {
      host: host.trim(),
      port: p,
      secure: tls === 'tls',
      requireTLS: tls !== 'none',
      user: user.trim(),
      ...(forget ? { password: '' } : password ? { password } : {}),
    };
  };
  const runTest = async () => {
    const sh = smart();
    if (typeof sh === 'string') return setTest({ error: sh });
    setTest({ running: true });
    const r = await client.call('testSmarthost', sh);
    setTest(r.ok ? r.value : { error: r.error.message });
  };
  return (
    <SettingsCard
      title="Outgoing mail"
      save={save}
      saveText={saveText}
      testId="settings-outbound"
      hint="How mail to addresses outside the family leaves. Most home Internet providers block direct delivery: use the sending server of your mail provider (a “smarthost”)."
      submit={() => {
        if (mode === 'mx') return { outbound: { mode: 'mx' } };
        const sh = smart();
        if (typeof sh === 'string') return sh;
        if (!sh.host) return 'Type the name of your provider’s sending server, for example smtp.example.com — or choose direct delivery.';
        return { outbound: { mode: 'smarthost', ...sh } };
      }}
    >
      <fieldset>
        <legend className="sr-only">How mail leaves</legend>
        <label className="check">
          <input type="radio" name="outbound-mode" checked={mode === 'smarthost'} onChange={() => setMode('smarthost')} />
          <span>Through my mail provider’s sending server (smarthost)</span>
        </label>
        <label className="check">
          <input type="radio" name="outbound-mode" checked={mode === 'mx'} onChange={() => setMode('mx')} />
          <span>Directly to each recipient’s mail server (needs port 25 open and reverse DNS)</span>
        </label>
      </fieldset>
      {mode === 'smarthost' && (
        <>
          <div className="field-row">
            <TextField label="Sending server" value={host} onChange={setHost} placeholder="smtp.example.com" grow />
            <label className="field port-field">
              <span>Port</span>
              <input className="mono-input" value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" />
            </label>
            <label className="field">
              <span>Encryption</span>
              <select value={tls} onChange={(e) => setTls(e.target.value as TlsMode)}>
                <option value="starttls">STARTTLS, required (port 587)</option>
                <option value="tls">TLS from the start (port 465)</option>
                <option value="none">None (only inside your own network)</option>
              </select>
            </label>
          </div>
          <div className="field-row">
            <TextField label="Login (user name)" value={user} onChange={setUser} placeholder="jane.doe@example.com" grow />
            <label className="field grow">
              <span>Password {o.passwordSet && <em className="muted">(set — leave empty to keep it)</em>}</span>
              <input
                type="password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                autoComplete="new-password"
                placeholder={o.passwordSet ? '••••••••' : ''}
                disabled={forget}
              />
            </label>
          </div>
          {o.passwordSet && <Toggle label="Remove the stored password" checked={forget} onChange={setForget} />}
          <div className="button-row">
            <button type="button" className="secondary" onClick={() => void runTest()} disabled={!!test && 'running' in test}>
              {test && 'running' in test ? 'Testing…' : 'Test the connection'}
            </button>
          </div>
          {test && 'error' in test && <ErrorLine error={test.error} />}
          {test && 'status' in test && (
            <div className={`smarthost-test s-${test.status}`} role="status" data-testid="smarthost-test">
              <p className={test.ok ? 'ok-line' : 'bad-line'}>
                <span aria-hidden="true">{test.status === 'ok' ? '✓ ' : test.status === 'warn' ? '! ' : '✕ '}</span>
                {test.detail}
              </p>
              {test.fix && <p className="fix">{test.fix}</p>}
            </div>
          )}
        </>
      )}
    </SettingsCard>
  );
}

const MODE_TEXT: Record<ListenerSetting['mode'], string> = {
  mx: 'Incoming mail (MX, port 25)',
  submission: 'Family sending, STARTTLS (587)',
  submissions: 'Family sending, TLS (465)',
};

let rowKeys = 0;
const nextRowKey = (): number => ++rowKeys;

function ListenersCard({ s, save }: CardProps) {
  // Each row gets a key once, when it is made: rows can be removed from the middle.
  const [rows, setRows] = useDraft(s.config.listeners.map((l) => ({ ...l, portText: String(l.port), key: nextRowKey() })));
  const set = (i: number, patch: Partial<(typeof rows)[number]>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <SettingsCard
      title="Listeners"
      save={save}
      testId="settings-listeners"
      hint="Where Postern answers. Changing them rebinds at once; open sessions finish on the old port. Host “::” means every address of this computer."
      submit={() => {
        const out: ListenerSetting[] = [];
        for (const r of rows) {
          const p = wholeNumber(r.portText, `Port of ${MODE_TEXT[r.mode]}`);
          if (typeof p === 'string') return p;
          out.push({ mode: r.mode, host: r.host.trim(), port: p, ...(r.fallbackPort ? { fallbackPort: r.fallbackPort } : {}) });
        }
        return { listeners: out };
      }}
    >
      <div className="listener-rows">
        {rows.map((r, i) => (
          <div className="field-row listener-row" key={r.key} data-testid="listener-setting">
            <label className="field">
              <span>Kind</span>
              <select value={r.mode} onChange={(e) => set(i, { mode: e.target.value as ListenerSetting['mode'] })}>
                {Object.entries(MODE_TEXT).map(([m, t]) => (
                  <option key={m} value={m}>
                    {t}
                  </option>
                ))}
              </select>
            </label>
            <TextField label="Host" value={r.host} onChange={(v) => set(i, { host: v })} />
            <label className="field port-field">
              <span>Port</span>
              <input className="mono-input" value={r.portText} onChange={(e) => set(i, { portText: e.target.value })} inputMode="numeric" />
            </label>
            <button type="button" className="secondary small" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove listener ${i + 1}`}>
              Remove
            </button>
          </div>
        ))}
      </div>
      <button
        type="button"
        className="secondary small"
        onClick={() => setRows([...rows, { mode: 'submission', host: '::', port: 587, portText: '587', key: nextRowKey() }])}
      >
        Add a listener
      </button>
    </SettingsCard>
  );
}

function ProxiesCard({ s, save }: CardProps) {
  const [text, setText] = useDraft(s.config.trustedProxies.join(' '));
  return (
    <SettingsCard
      title="Trusted proxies"
      save={save}
      testId="settings-proxies"
      hint="Only if mail reaches Postern through a proxy that sends a PROXY header (HAProxy, a VPS in front): its IP address. Anything else listed here could pretend to be anyone."
      submit={() => ({ trustedProxies: splitList(text) })}
    >
      <TextField label="Proxy IP addresses" value={text} onChange={setText} placeholder="203.0.113.7" grow />
    </SettingsCard>
  );
}

function ChecksCard({ s, save }: CardProps) {
  const [spfOn, setSpfOn] = useDraft(s.config.spf.enabled);
  const [policy, setPolicy] = useDraft(s.config.spf.policy);
  const [selector, setSelector] = useDraft(s.config.dkim.selector);
  return (
    <SettingsCard
      title="Checks and signing"
      label="Checks"
      save={save}
      testId="settings-checks"
      submit={() => ({ spf: { enabled: spfOn, policy }, dkim: { selector: selector.trim() } })}
    >
      <Toggle label="Check the sender’s SPF record on incoming mail" checked={spfOn} onChange={setSpfOn} />
      <fieldset disabled={!spfOn}>
        <legend>When SPF fails</legend>
        <label className="check">
          <input type="radio" name="spf-policy" checked={policy === 'soft'} onChange={() => setPolicy('soft')} />
          <span>Accept it and mark it (recommended)</span>
        </label>
        <label className="check">
          <input type="radio" name="spf-policy" checked={policy === 'strict'} onChange={() => setPolicy('strict')} />
          <span>Refuse it</span>
        </label>
      </fieldset>
      <div className="field-row">
        <TextField label="DKIM selector (the name of the signing key in DNS)" value={selector} onChange={setSelector} placeholder="postern" />
      </div>
    </SettingsCard>
  );
}

function LimitsCard({ s, save }: CardProps) {
  const l = s.config.limits;
  const [size, setSize] = useDraft(String(Math.round(l.maxMessageBytes / MB)));
  const [rcpts, setRcpts] = useDraft(String(l.maxRecipients));
  const [clients, setClients] = useDraft(String(l.maxClients));
  const [perClient, setPerClient] = useDraft(String(l.maxConnectionsPerClient));
  const [idle, setIdle] = useDraft(String(l.idleTimeoutSeconds));
  const [free, setFree] = useDraft(String(Math.round(l.minFreeBytes / MB)));
  return (
    <SettingsCard
      title="Limits"
      save={save}
      testId="settings-limits"
      submit={() => {
        const v = [
          wholeNumber(size, 'Largest message', 1),
          wholeNumber(rcpts, 'Recipients per message', 1),
          wholeNumber(clients, 'Connections at once', 1),
          wholeNumber(perClient, 'Connections per sender', 1),
          wholeNumber(idle, 'Idle time-out', 5),
          wholeNumber(free, 'Free disk space', 0),
        ];
        const bad = v.find((x) => typeof x === 'string');
        if (bad) return bad as string;
        const [a, b, c, d, e, f] = v as number[];
        return {
          limits: { maxMessageBytes: a * MB, maxRecipients: b, maxClients: c, maxConnectionsPerClient: d, idleTimeoutSeconds: e, minFreeBytes: f * MB },
        };
      }}
    >
      <div className="field-row">
        <TextField label="Largest message (MB)" value={size} onChange={setSize} />
        <TextField label="Recipients per message" value={rcpts} onChange={setRcpts} />
        <TextField label="Connections at once" value={clients} onChange={setClients} />
      </div>
      <div className="field-row">
        <TextField label="Connections per sender" value={perClient} onChange={setPerClient} />
        <TextField label="Idle time-out (seconds)" value={idle} onChange={setIdle} />
        <TextField label="Keep free on disk (MB)" value={free} onChange={setFree} />
      </div>
    </SettingsCard>
  );
}

function CertificateCard({ s, save }: CardProps) {
  const [cert, setCert] = useDraft(s.config.tls.certFile ?? '');
  const [key, setKey] = useDraft(s.config.tls.keyFile ?? '');
  return (
    <SettingsCard
      title="Certificate files"
      label="Certificate files"
      save={save}
      testId="settings-certificate"
      hint={
        s.config.acme.enabled
          ? 'Not used while Postern gets its certificate from Let’s Encrypt (above).'
          : 'PEM files of a certificate for the server name (from certbot, say) and its private key. Empty: Postern’s own self-signed certificate. The new one is served at once.'
      }
      submit={() => ({ tls: { certFile: cert.trim() || null, keyFile: key.trim() || null } })}
    >
      <TextField
        label="Certificate file (full chain)"
        value={cert}
        onChange={setCert}
        placeholder="/etc/letsencrypt/live/mx.example-family.com/fullchain.pem"
        grow
      />
      <TextField label="Private key file" value={key} onChange={setKey} placeholder="/etc/letsencrypt/live/mx.example-family.com/privkey.pem" grow />
    </SettingsCard>
  );
}
