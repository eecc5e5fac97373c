// The Settings cards for what issues 13 and 14 left in the file only (docs/design.md §7.1,
// §8.2): built-in certificates (ACME, §2.5: on/off, Let's Encrypt staging / production /
// another directory, contact address, how the CA checks), how logins are checked
// (§2.4: Postern's own passwords or saslauthd), the DNS servers and time-out, the
// dashboard's address (used from the next start), how long the history is kept (§4.4)
// and the advanced limits (§2.8). Each saved through saveSettings and in use at once.
import { useState } from 'react';
import type { SettingsChange } from '../api.ts';
import { type CardProps, SettingsCard, splitList, TextField, Toggle, useDraft, wholeNumber } from './SettingsParts.tsx';

const STAGING = 'letsencrypt-staging';
const PRODUCTION = 'letsencrypt';

export function AcmeCard({ s, save }: CardProps) {
  const a = s.config.acme;
  const known = a.directory === STAGING || a.directory === PRODUCTION;
  const [enabled, setEnabled] = useDraft(a.enabled);
  const [which, setWhich] = useDraft(known ? a.directory : 'custom');
  const [url, setUrl] = useDraft(known ? '' : a.directory);
  const [email, setEmail] = useDraft(a.email);
  const [challenge, setChallenge] = useDraft(a.challenge);
  const files = !!s.config.tls.certFile;
  return (
    <SettingsCard
      title="Certificate from Let’s Encrypt"
      label="Certificate"
      save={save}
      testId="settings-acme"
      hint={
        <>
          Postern can get a free certificate for <span className="mono">{s.config.hostname}</span> that phones trust, and renew it 30 days before it ends. The
          state and a “Renew now” button are on the <a href="#/setup">Setup</a> page. A change here takes effect at once; the gateway keeps running.
        </>
      }
      submit={() => {
        const directory = which === 'custom' ? url.trim() : which;
        if (which === 'custom' && !/^https?:\/\/\S+$/i.test(directory))
          return 'Another directory: type its full address, for example https://acme.example.net/directory';
        if (enabled && email.trim() && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()))
          return 'Contact address: type an e-mail address, for example jane@example.com — or leave it empty';
        const change: SettingsChange = { acme: { enabled, directory, email: email.trim(), challenge } };
        // Built-in certificates replace the certificate files (the two cannot be used together).
        if (enabled && files) change.tls = { certFile: null, keyFile: null };
        return change;
      }}
    >
      <Toggle label="Get and renew the certificate automatically (ACME)" checked={enabled} onChange={setEnabled} />
      {enabled && files && <p className="hint">Saving this stops using the certificate files below.</p>}
      <fieldset disabled={!enabled}>
        <legend>From</legend>
        <label className="check">
          <input type="radio" name="acme-directory" checked={which === STAGING} onChange={() => setWhich(STAGING)} />
          <span>Let’s Encrypt staging — to try it out first (phones do not trust these certificates)</span>
        </label>
        <label className="check">
          <input type="radio" name="acme-directory" checked={which === PRODUCTION} onChange={() => setWhich(PRODUCTION)} />
          <span>Let’s Encrypt — the real, trusted certificate</span>
        </label>
        <label className="check">
          <input type="radio" name="acme-directory" checked={which === 'custom'} onChange={() => setWhich('custom')} />
          <span>Another certificate authority (its ACME directory address)</span>
        </label>
        {which === 'custom' && <TextField label="Directory address" value={url} onChange={setUrl} placeholder="https://acme.example.net/directory" grow />}
      </fieldset>
      <fieldset disabled={!enabled}>
        <legend>How the certificate authority checks this is your server</legend>
        <label className="check">
          <input type="radio" name="acme-challenge" checked={challenge === 'http-01'} onChange={() => setChallenge('http-01')} />
          <span>A web request to port 80 (forward port 80 on the router to this computer)</span>
        </label>
        <label className="check">
          <input type="radio" name="acme-challenge" checked={challenge === 'dns-01'} onChange={() => setChallenge('dns-01')} />
          <span>A DNS record I publish by hand (Postern shows it on the Setup page)</span>
        </label>
      </fieldset>
      <div className="field-row">
        <TextField label="Contact address for expiry mails (optional)" value={email} onChange={setEmail} placeholder="jane@example.com" grow />
      </div>
    </SettingsCard>
  );
}

export function LoginCard({ s, save }: CardProps) {
  const a = s.config.auth;
  const [backend, setBackend] = useDraft(a.backend);
  const [socket, setSocket] = useDraft(a.saslauthd.socket);
  const [service, setService] = useDraft(a.saslauthd.service);
  return (
    <SettingsCard
      title="Logins"
      save={save}
      testId="settings-logins"
      hint="How Postern checks the user name and password of a family member who sends mail."
      submit={() => {
        if (backend === 'saslauthd' && !socket.trim().startsWith('/'))
          return 'saslauthd socket: type the full path of its socket, for example /run/saslauthd/mux';
        if (backend === 'saslauthd' && !service.trim()) return 'saslauthd service: type the service name, for example smtp';
        return { auth: { backend, saslauthd: { socket: socket.trim(), service: service.trim() } } };
      }}
    >
      <fieldset>
        <legend className="sr-only">Logins checked by</legend>
        <label className="check">
          <input type="radio" name="auth-backend" checked={backend === 'builtin'} onChange={() => setBackend('builtin')} />
          <span>Postern’s own passwords (set on the Accounts page) — recommended</span>
        </label>
        <label className="check">
          <input type="radio" name="auth-backend" checked={backend === 'saslauthd'} onChange={() => setBackend('saslauthd')} />
          <span>This computer’s accounts, through saslauthd</span>
        </label>
      </fieldset>
      {backend === 'saslauthd' && (
        <div className="field-row">
          <TextField label="saslauthd socket" value={socket} onChange={setSocket} placeholder="/run/saslauthd/mux" grow />
          <TextField label="Service name" value={service} onChange={setService} placeholder="smtp" />
        </div>
      )}
    </SettingsCard>
  );
}

export function DnsCard({ s, save }: CardProps) {
  const [servers, setServers] = useDraft(s.config.dns.servers.join(' '));
  const [timeout, setTimeoutText] = useDraft(String(s.config.dns.timeoutMs));
  return (
    <SettingsCard
      title="DNS servers"
      label="DNS"
      save={save}
      testId="settings-dns"
      hint="Where Postern looks up names (SPF, DKIM, the setup check, delivery). Empty: the servers this computer uses."
      submit={() => {
        const t = wholeNumber(timeout, 'Time-out per lookup', 100);
        if (typeof t === 'string') return t;
        if (t > 60000) return 'Time-out per lookup: type at most 60000 (one minute)';
        return { dns: { servers: splitList(servers), timeoutMs: t } };
      }}
    >
      <div className="field-row">
        <TextField label="DNS servers (addresses, optionally :port)" value={servers} onChange={setServers} placeholder="192.168.1.1 9.9.9.9" grow />
        <TextField label="Time-out per lookup (ms)" value={timeout} onChange={setTimeoutText} />
      </div>
    </SettingsCard>
  );
}

export function DashboardCard({ s, save }: CardProps) {
  const [host, setHost] = useDraft(s.config.dashboard.host);
  const [port, setPort] = useDraft(String(s.config.dashboard.port));
  return (
    <SettingsCard
      title="Dashboard address"
      label="Dashboard"
      save={save}
      testId="settings-dashboard"
      savedText="✓ Saved — used from the next start of postern serve"
      hint={
        <>
          Where <code>postern serve</code> shows this dashboard. <strong>Takes effect at the next start</strong>; until then the dashboard stays where it is.
          Keep 127.0.0.1 unless other computers must open it (the link with its access code is still needed).
        </>
      }
      submit={() => {
        const p = wholeNumber(port, 'Dashboard port', 1);
        if (typeof p === 'string') return p;
        if (p > 65535) return 'Dashboard port: type at most 65535';
        return { dashboard: { host: host.trim(), port: p } };
      }}
    >
      <div className="field-row">
        <TextField label="Address" value={host} onChange={setHost} placeholder="127.0.0.1" grow />
        <TextField label="Port" value={port} onChange={setPort} />
      </div>
    </SettingsCard>
  );
}

export function HistoryCard({ s, save }: CardProps) {
  const [days, setDays] = useDraft(String(s.config.history.retentionDays));
  return (
    <SettingsCard
      title="History"
      save={save}
      testId="settings-history"
      hint="How long the log and the Messages page keep what happened. Mail in the Maildirs is not touched."
      submit={() => {
        const d = wholeNumber(days, 'Days to keep', 1);
        if (typeof d === 'string') return d;
        if (d > 3650) return 'Days to keep: type at most 3650 (ten years)';
        return { history: { retentionDays: d } };
      }}
    >
      <div className="field-row">
        <TextField label="Days to keep" value={days} onChange={setDays} />
      </div>
    </SettingsCard>
  );
}

type LimitKey =
  | 'maxHeaderLines'
  | 'maxHeaderBytes'
  | 'maxSubmissionClients'
  | 'reservedInternalSlots'
  | 'maxConnectionsPerNetwork'
  | 'commandSeconds'
  | 'sessionSeconds'
  | 'minDataRate'
  | 'dataRateWindowSeconds'
  | 'maxUnknownRecipients';

/** The advanced limits: label, unit factor (KiB shown for bytes), smallest value. */
const ADVANCED: { key: LimitKey; label: string; factor?: number; min: number; group: 'time' | 'sessions' | 'header' | 'slots' }[] = [
  { key: 'commandSeconds', label: 'One command (seconds)', min: 1, group: 'time' },
  { key: 'sessionSeconds', label: 'Whole session (seconds)', min: 10, group: 'time' },
  { key: 'minDataRate', label: 'Slowest message upload (bytes/s, 0: off)', min: 0, group: 'time' },
  { key: 'dataRateWindowSeconds', label: '… averaged over (seconds)', min: 1, group: 'time' },
  { key: 'maxSubmissionClients', label: 'Family connections at once', min: 1, group: 'sessions' },
  { key: 'maxConnectionsPerNetwork', label: 'Connections per network', min: 1, group: 'sessions' },
  { key: 'maxUnknownRecipients', label: 'Unknown recipients before hanging up', min: 1, group: 'sessions' },
  { key: 'maxHeaderLines', label: 'Header lines', min: 100, group: 'header' },
  { key: 'maxHeaderBytes', label: 'Header size (KB)', factor: 1024, min: 16, group: 'header' },
  { key: 'reservedInternalSlots', label: 'Connections kept for home devices', min: 0, group: 'slots' },
];

const GROUPS: { id: (typeof ADVANCED)[number]['group']; title: string }[] = [
  { id: 'time', title: 'Time-outs' },
  { id: 'sessions', title: 'Sessions' },
  { id: 'header', title: 'Message header' },
  { id: 'slots', title: 'Slots' },
];

export function AdvancedLimitsCard({ s, save }: CardProps) {
  const l = s.config.limits;
  const stored = Object.fromEntries(ADVANCED.map((f) => [f.key, String(Math.round(l[f.key] / (f.factor ?? 1)))])) as Record<LimitKey, string>;
  const [draft, setDraft] = useDraft(stored);
  const [open, setOpen] = useState(false);
  return (
    <SettingsCard
      title="Advanced limits"
      save={save}
      testId="settings-advanced-limits"
      hint="What protects Postern from slow, noisy or hostile clients. The defaults suit a family; change them only for a reason."
      submit={() => {
        const limits: Partial<Record<LimitKey, number>> = {};
        for (const f of ADVANCED) {
          const v = wholeNumber(draft[f.key], f.label.replace(/ \(.*$/, ''), f.min);
          if (typeof v === 'string') return v;
          limits[f.key] = v * (f.factor ?? 1);
        }
        return { limits };
      }}
    >
      <details className="advanced" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>{open ? 'Hide the advanced limits' : 'Show the advanced limits'}</summary>
        {GROUPS.map((g) => (
          <fieldset key={g.id} className="limit-group">
            <legend>{g.title}</legend>
            <div className="field-row">
              {ADVANCED.filter((f) => f.group === g.id).map((f) => (
                <TextField key={f.key} label={f.label} value={draft[f.key]} onChange={(v) => setDraft({ ...draft, [f.key]: v })} />
              ))}
            </div>
          </fieldset>
        ))}
      </details>
    </SettingsCard>
  );
}
