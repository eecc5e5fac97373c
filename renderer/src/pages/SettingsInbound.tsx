// The Settings cards for inbound protection (docs/design.md §2.10–§2.14, §8.2): DMARC
// enforced or reported only, DNS blocklists (zones with weights, the threshold, the
// allow-lists), the rspamd spam filter (address, time-out, what to do when it does not
// answer), the rate limits and greylisting — each in plain words with its default, saved
// through saveSettings and in use at once.
import type { InboundSettings } from '../api.ts';
import { type CardProps, SettingsCard, splitList, TextField, Toggle, useDraft, wholeNumber } from './SettingsParts.tsx';

/** A number (a fraction allowed) from a field, or a sentence saying what to type. */
function decimal(s: string, what: string, min: number, max: number, example: string): number | string {
  const t = s.trim().replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(t)) return `${what}: type a number, for example ${example}`;
  const n = Number(t);
  if (n < min) return `${what}: type at least ${min}`;
  if (n > max) return `${what}: type at most ${max}`;
  return n;
}

export function DmarcCard({ s, save }: CardProps) {
  const [enforce, setEnforce] = useDraft(s.config.inbound.dmarc.enforce);
  return (
    <SettingsCard
      title="Forged senders (DMARC)"
      label="DMARC"
      save={save}
      testId="settings-dmarc"
      hint={
        <>
          A domain’s DMARC record tells receivers what to do with mail that claims to come from it but fails its checks. Enforcing it (the default) stops forged
          bank and shop mail: <strong>reject</strong> means refused, <strong>quarantine</strong> means delivered into the family member’s Junk folder.
        </>
      }
      submit={() => ({ dmarc: { enforce } })}
    >
      <fieldset>
        <legend className="sr-only">DMARC</legend>
        <label className="check">
          <input type="radio" name="dmarc-enforce" checked={enforce} onChange={() => setEnforce(true)} />
          <span>Follow the sender’s policy: refuse or put into Junk (default)</span>
        </label>
        <label className="check">
          <input type="radio" name="dmarc-enforce" checked={!enforce} onChange={() => setEnforce(false)} />
          <span>Report only: deliver everything, and note the result in the message’s headers and the log</span>
        </label>
      </fieldset>
    </SettingsCard>
  );
}

const zoneText = (zones: InboundSettings['dnsbl']['zones']) => zones.map((z) => (z.weight === 1 ? z.zone : `${z.zone} ${z.weight}`)).join('\n');

export function BlocklistCard({ s, save }: CardProps) {
  const d = s.config.inbound.dnsbl;
  const [zones, setZones] = useDraft(zoneText(d.zones));
  const [threshold, setThreshold] = useDraft(String(d.threshold));
  const [allow, setAllow] = useDraft(d.allow.join(' '));
  const [addresses, setAddresses] = useDraft(d.allowAddresses.join(' '));
  return (
    <SettingsCard
      title="Known spam sources (DNS blocklists)"
      label="Blocklists"
      save={save}
      testId="settings-dnsbl"
      hint={
        <>
          Postern can ask public lists of spamming servers about every server that sends mail here, and refuse those listed. None is used by default: each list
          has its own terms (Spamhaus, for example, is free only for small, non-commercial use). A list that does not answer never blocks mail. Family devices
          and logged-in family members are never looked up.
        </>
      }
      submit={() => {
        const list: InboundSettings['dnsbl']['zones'] = [];
        for (const line of zones
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)) {
          const [zone, w, extra] = line.split(/[\s,;]+/);
          if (extra !== undefined) return `Lists: write one list per line, its name and optionally a weight — for example “zen.spamhaus.org 2”`;
          const weight = w === undefined ? 1 : decimal(w, `Weight of ${zone}`, 0, 1000, '1');
          if (typeof weight === 'string') return weight;
          list.push({ zone, weight });
        }
        const t = decimal(threshold, 'Refuse from a total weight of', 0.001, 1000, '1');
        if (typeof t === 'string') return t;
        return { dnsbl: { zones: list, threshold: t, allow: splitList(allow), allowAddresses: splitList(addresses) } };
      }}
    >
      <fieldset className="limit-group">
        <legend>Lists</legend>
        <label className="field grow">
          <span>One per line: the name and a weight (default weight 1)</span>
          <textarea
            className="mono-input"
            rows={3}
            value={zones}
            onChange={(e) => setZones(e.target.value)}
            placeholder={'zen.spamhaus.org 2\nbl.spamcop.net 1'}
            spellCheck={false}
          />
        </label>
        <div className="field-row">
          <TextField label="Refuse from a total weight of (default 1: any one list)" value={threshold} onChange={setThreshold} />
        </div>
      </fieldset>
      <fieldset className="limit-group">
        <legend>Never refused</legend>
        <div className="field-row">
          <TextField label="Servers listed by these allow-lists (e.g. list.dnswl.org)" value={allow} onChange={setAllow} placeholder="list.dnswl.org" grow />
          <TextField
            label="Servers you trust, never looked up (addresses or networks)"
            value={addresses}
            onChange={setAddresses}
            placeholder="203.0.113.5 198.51.100.0/24"
            grow
          />
        </div>
      </fieldset>
    </SettingsCard>
  );
}

export function RspamdCard({ s, save }: CardProps) {
  const r = s.config.inbound.rspamd;
  const [enabled, setEnabled] = useDraft(r.enabled);
  const [url, setUrl] = useDraft(r.url);
  const [timeout, setTimeoutText] = useDraft(String(r.timeoutMs / 1000));
  const [onUnreachable, setOnUnreachable] = useDraft(r.onUnreachable);
  return (
    <SettingsCard
      title="Spam filter (rspamd)"
      label="Spam filter"
      save={save}
      testId="settings-rspamd"
      hint={
        <>
          If rspamd runs on this computer or nearby (Debian: <code>apt install rspamd</code>), Postern has it score every message from the Internet before
          accepting it: clear spam is refused, likely spam goes into the Junk folder, the rest into the inbox. Off by default.
        </>
      }
      submit={() => {
        if (!/^https?:\/\/\S+$/i.test(url.trim())) return 'rspamd address: type its full address, for example http://127.0.0.1:11333';
        const t = decimal(timeout, 'Time-out', 0.1, 120, '15');
        if (typeof t === 'string') return t;
        return { rspamd: { enabled, url: url.trim(), timeoutMs: Math.round(t * 1000), onUnreachable } };
      }}
    >
      <Toggle label="Score incoming mail with rspamd" checked={enabled} onChange={setEnabled} />
      <fieldset disabled={!enabled}>
        <legend className="sr-only">rspamd</legend>
        <div className="field-row">
          <TextField label="rspamd’s address (default http://127.0.0.1:11333)" value={url} onChange={setUrl} placeholder="http://127.0.0.1:11333" grow />
          <TextField label="Time-out (seconds, default 15)" value={timeout} onChange={setTimeoutText} />
        </div>
      </fieldset>
      <fieldset disabled={!enabled}>
        <legend>When rspamd does not answer</legend>
        <label className="check">
          <input type="radio" name="rspamd-unreachable" checked={onUnreachable === 'accept'} onChange={() => setOnUnreachable('accept')} />
          <span>Accept the message unscored, marked as such (default: no mail is lost)</span>
        </label>
        <label className="check">
          <input type="radio" name="rspamd-unreachable" checked={onUnreachable === 'defer'} onChange={() => setOnUnreachable('defer')} />
          <span>Ask the sender’s server to try again later (mail waits until rspamd is back)</span>
        </label>
      </fieldset>
    </SettingsCard>
  );
}

type RateKey = keyof InboundSettings['rateLimits'];
const RATES: { key: RateKey; label: string; dflt: number; who: 'internet' | 'family' }[] = [
  { key: 'connectionsPerMinute', label: 'Connections a minute from one server', dflt: 60, who: 'internet' },
  { key: 'networkConnectionsPerMinute', label: 'Connections a minute from one network', dflt: 200, who: 'internet' },
  { key: 'messagesPerMinute', label: 'Messages a minute from one server', dflt: 30, who: 'internet' },
  { key: 'networkMessagesPerMinute', label: 'Messages a minute from one network', dflt: 100, who: 'internet' },
  { key: 'accountMessagesPerHour', label: 'Messages an hour per family account', dflt: 200, who: 'family' },
  { key: 'accountRecipientsPerHour', label: 'Recipients an hour per family account', dflt: 1000, who: 'family' },
];

export function RateLimitsCard({ s, save }: CardProps) {
  const stored = Object.fromEntries(RATES.map((f) => [f.key, String(s.config.inbound.rateLimits[f.key])])) as Record<RateKey, string>;
  const [draft, setDraft] = useDraft(stored);
  const group = (who: 'internet' | 'family', title: string) => (
    <fieldset className="limit-group">
      <legend>{title}</legend>
      <div className="field-row">
        {RATES.filter((f) => f.who === who).map((f) => (
          <TextField key={f.key} label={`${f.label} (default ${f.dflt})`} value={draft[f.key]} onChange={(v) => setDraft({ ...draft, [f.key]: v })} />
        ))}
      </div>
    </fieldset>
  );
  return (
    <SettingsCard
      title="Rate limits"
      save={save}
      testId="settings-rate-limits"
      hint={
        <>
          How much mail is too much. Servers on the Internet that go over are asked to slow down; family devices at home are never limited. A family account
          that sends more than a family ever does most likely has a leaked password: it is stopped for the hour and the dashboard asks whether to lift the limit
          or block the account. 0 turns a limit off.
        </>
      }
      submit={() => {
        const rateLimits: Partial<Record<RateKey, number>> = {};
        for (const f of RATES) {
          const v = wholeNumber(draft[f.key], f.label, 0);
          if (typeof v === 'string') return v;
          rateLimits[f.key] = v;
        }
        return { rateLimits };
      }}
    >
      {group('internet', 'Servers on the Internet (mail to the family)')}
      {group('family', 'Family accounts (mail they send)')}
    </SettingsCard>
  );
}

export function GreylistCard({ s, save }: CardProps) {
  const g = s.config.inbound.greylist;
  const [enabled, setEnabled] = useDraft(g.enabled);
  const [delay, setDelay] = useDraft(String(g.delayMinutes));
  const [days, setDays] = useDraft(String(g.expireDays));
  return (
    <SettingsCard
      title="Greylisting"
      save={save}
      testId="settings-greylist"
      hint={
        <>
          A server Postern has not seen sending from this address to this family member is asked to try again in a few minutes. Real mail servers do; most spam
          software never comes back. The cost: the first message from someone new arrives a few minutes late (later ones at once). Off by default. Family
          devices and logged-in family members are never greylisted.
        </>
      }
      submit={() => {
        const d = decimal(delay, 'Wait before a retry is accepted', 0, 1440, '5');
        if (typeof d === 'string') return d;
        const e = decimal(days, 'Forget senders not seen for', 1, 3650, '35');
        if (typeof e === 'string') return e;
        return { greylist: { enabled, delayMinutes: d, expireDays: e } };
      }}
    >
      <Toggle label="Greylist new senders" checked={enabled} onChange={setEnabled} />
      <fieldset disabled={!enabled}>
        <legend className="sr-only">Greylisting</legend>
        <div className="field-row">
          <TextField label="Wait before a retry is accepted (minutes, default 5)" value={delay} onChange={setDelay} />
          <TextField label="Forget senders not seen for (days, default 35)" value={days} onChange={setDays} />
        </div>
      </fieldset>
    </SettingsCard>
  );
}
