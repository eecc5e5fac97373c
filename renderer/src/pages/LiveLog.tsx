// The live log: every decision as one row, newest at the bottom, virtualised so a
// hundred thousand rows scroll smoothly. Follows new rows until the person scrolls
// up; then an "N new" pill brings them back. A click opens the whole SMTP session.
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { EventVerdict, GatewayEvent, Stage } from '../api.ts';
import { useApp, useEventsVersion } from '../hooks.ts';
import { clock, dateTime, num, route, STAGE_LABEL, STAGES, VERDICT_LABEL, VERDICTS } from '../format.ts';
import { Icon, VERDICT_ICON } from '../components/Icon.tsx';
import { FilteredView, NO_FILTER, type LogFilter } from './log-filter.ts';
import { SessionPanel } from './SessionPanel.tsx';

export const ROW_H = 30;
/** At phone width a row is a card of three lines (styles.css "phone layout"); the size is read once at load. */
export const CARD_H = 86;
const PHONE = typeof matchMedia === 'function' && matchMedia('(max-width: 640px)').matches;
// Stable functions: the virtualiser recomputes its 100,000 positions when they change.
const rowSize = () => (PHONE ? CARD_H : ROW_H);

/**
 * The same badge for log rows, drawn by CSS (a mask image): no SVG nodes per row. A
 * notice of the gateway itself (a setup check that found something, a port that failed)
 * refused no one: it says "Problem", not "Rejected" (docs/design.md §4.2).
 */
function RowBadge({ verdict, stage }: { verdict: EventVerdict; stage: GatewayEvent['stage'] }) {
  const notice = verdict === 'reject' && (stage === 'system' || stage === 'network');
  return <span className={`badge v-${verdict} css-icon`}>{notice ? 'Problem' : VERDICT_LABEL[verdict]}</span>;
}

const Row = memo(function Row({ e, top, selected, onOpen }: { e: GatewayEvent; top: number; selected: boolean; onOpen: (e: GatewayEvent) => void }) {
  const r = route(e.from, e.to);
  return (
    <div
      role="row"
      className={`row v-${e.verdict}${selected ? ' selected' : ''}`}
      style={{ transform: `translateY(${top}px)` }}
      data-id={e.id}
      data-verdict={e.verdict}
      tabIndex={0}
      aria-selected={selected}
      onClick={() => onOpen(e)}
      onKeyDown={(k) => {
        if (k.key === 'Enter' || k.key === ' ') {
          k.preventDefault();
          onOpen(e);
        }
      }}
    >
      <span role="cell" className="c-time">
        <time dateTime={e.time} title={dateTime(e.time)}>
          {clock(e.time)}
        </time>
      </span>
      <span role="cell" className="c-verdict">
        <RowBadge verdict={e.verdict} stage={e.stage} />
      </span>
      <span role="cell" className="c-stage">
        {STAGE_LABEL[e.stage]}
      </span>
      <span role="cell" className="c-client" title={e.listener ? `${e.client} on ${e.listener}` : e.client}>
        {e.client}
      </span>
      <span role="cell" className="c-rule" title={e.rule}>
        {e.rule}
      </span>
      <span role="cell" className="c-reply" title={`${e.code || ''} ${e.text}${e.reason ? ` (${e.reason})` : ''}`.trim()}>
        {e.code ? <span className="code">{e.code}</span> : null} {e.text}
        {e.reason ? <span className="reason"> · {e.reason}</span> : null}
      </span>
      <span role="cell" className="c-route" title={r}>
        {r}
      </span>
    </div>
  );
});

function Toolbar(props: {
  filter: LogFilter;
  setFilter: (f: LogFilter) => void;
  search: string;
  setSearch: (s: string) => void;
  rules: string[];
  total: number;
  shown: number;
  following: boolean;
  setFollowing: (f: boolean) => void;
}) {
  const { filter, setFilter } = props;
  const toggle = (v: EventVerdict) =>
    setFilter({ ...filter, verdicts: filter.verdicts.includes(v) ? filter.verdicts.filter((x) => x !== v) : [...filter.verdicts, v] });
  const filtered = filter.verdicts.length || filter.stage || filter.rule || filter.text;
  return (
    <div className="toolbar" role="toolbar" aria-label="Log filters">
      <input
        type="search"
        className="search"
        placeholder="Search the log…"
        aria-label="Search the log"
        value={props.search}
        onChange={(e) => props.setSearch(e.target.value)}
      />
      <div className="chips" role="group" aria-label="Verdict">
        {VERDICTS.map((v) => (
          <button key={v} type="button" className={`chip v-${v}`} aria-pressed={filter.verdicts.includes(v)} onClick={() => toggle(v)}>
            <Icon name={VERDICT_ICON[v]} /> {VERDICT_LABEL[v]}
          </button>
        ))}
      </div>
      <select className="select" aria-label="Stage" value={filter.stage} onChange={(e) => setFilter({ ...filter, stage: e.target.value as Stage | '' })}>
        <option value="">All stages</option>
        {STAGES.map((s) => (
          <option key={s} value={s}>
            {STAGE_LABEL[s]}
          </option>
        ))}
      </select>
      <select className="select" aria-label="Rule" value={filter.rule} onChange={(e) => setFilter({ ...filter, rule: e.target.value })}>
        <option value="">All rules</option>
        {props.rules.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      {filtered ? (
        <button
          type="button"
          className="link"
          onClick={() => {
            props.setSearch('');
            setFilter(NO_FILTER);
          }}
        >
          Clear filters
        </button>
      ) : null}
      <span className="spacer" />
      <span className="count" data-testid="log-count" aria-live="off">
        {filtered ? `${num(props.shown)} of ${num(props.total)} events` : `${num(props.total)} events`}
      </span>
      <button type="button" className="follow" aria-pressed={props.following} onClick={() => props.setFollowing(!props.following)}>
        {props.following ? (
          <>
            <Icon name="pause" /> Pause
          </>
        ) : (
          <>
            <Icon name="play" /> Follow
          </>
        )}
      </button>
    </div>
  );
}

export function LiveLog() {
  const { live } = useApp();
  useEventsVersion();
  const [filter, setFilter] = useState<LogFilter>(NO_FILTER);
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<GatewayEvent | null>(null);
  const [following, setFollowingState] = useState(true);
  const [pausedAt, setPausedAt] = useState(0);
  const viewRef = useRef<FilteredView>(null);
  viewRef.current ??= new FilteredView();
  const view = viewRef.current;
  view.update(live, filter);
  const rows = view.rows;
  const count = rows.length;

  // Search waits for a pause in typing.
  useEffect(() => {
    if (search === filter.text) return;
    const t = setTimeout(() => setFilter((f) => ({ ...f, text: search })), 120);
    return () => clearTimeout(t);
  }, [search, filter.text]);

  const scroller = useRef<HTMLDivElement>(null);
  const followingRef = useRef(following);
  followingRef.current = following;
  const userInput = useRef(0);
  const countRef = useRef(count);
  countRef.current = count;

  const setFollowing = useCallback((f: boolean) => {
    setFollowingState(f);
    if (!f) setPausedAt(countRef.current);
  }, []);

  const getScrollElement = useCallback(() => scroller.current, []);
  const virtualizer = useVirtualizer({ count, getScrollElement, estimateSize: rowSize, overscan: 8 });

  // Following: keep the newest row in view (only when rows change, so a scroll by
  // the person is never undone before it pauses the log).
  // biome-ignore lint/correctness/useExhaustiveDependencies: count and view.resets are the triggers (new rows, a new filter)
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [count, following, view.resets]);

  // A new filter while paused: count new rows from here.
  // biome-ignore lint/correctness/useExhaustiveDependencies: view.resets is the trigger (a new filter)
  useEffect(() => {
    if (!followingRef.current) setPausedAt(countRef.current);
  }, [view.resets]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= ROW_H / 2;
    if (atBottom) {
      if (!followingRef.current) setFollowing(true);
    } else if (followingRef.current && performance.now() - userInput.current < 1000) {
      setFollowing(false);
    }
  };
  const markInput = () => {
    userInput.current = performance.now();
  };

  const onOpen = useCallback((e: GatewayEvent) => setSelected(e), []);
  const rules = [...live.rules].sort();
  const newRows = following ? 0 : Math.max(0, count - pausedAt);
  const items = virtualizer.getVirtualItems();

  return (
    <div className={selected ? 'log-layout with-panel' : 'log-layout'}>
      <section className="log" aria-label="Live log">
        <Toolbar
          filter={filter}
          setFilter={setFilter}
          search={search}
          setSearch={setSearch}
          rules={rules}
          total={live.events.length}
          shown={count}
          following={following}
          setFollowing={setFollowing}
        />
        <div className="log-table" role="table" aria-label="Events" aria-rowcount={count}>
          <div className="row head" role="row">
            <span role="columnheader" className="c-time">
              Time
            </span>
            <span role="columnheader" className="c-verdict">
              Verdict
            </span>
            <span role="columnheader" className="c-stage">
              Stage
            </span>
            <span role="columnheader" className="c-client">
              Client
            </span>
            <span role="columnheader" className="c-rule">
              Rule
            </span>
            <span role="columnheader" className="c-reply">
              Reply
            </span>
            <span role="columnheader" className="c-route">
              From → To
            </span>
          </div>
          <div
            className="log-scroll"
            ref={scroller}
            onScroll={onScroll}
            onWheel={markInput}
            onTouchMove={markInput}
            onKeyDown={markInput}
            onMouseDown={markInput}
            data-testid="log-scroll"
            role="rowgroup"
          >
            {count === 0 ? (
              <p className="empty">
                {live.loading
                  ? 'Loading the log…'
                  : live.events.length
                    ? 'No event matches these filters.'
                    : 'Nothing has happened yet. Events appear here the moment a mail client connects.'}
              </p>
            ) : (
              <div className="log-inner" style={{ height: virtualizer.getTotalSize() }}>
                {items.map((it) => {
                  const e = rows[it.index];
                  return e ? (
                    <Row
                      key={e.id}
                      e={e}
                      top={it.start}
                      selected={selected?.session ? selected.session === e.session : selected?.id === e.id}
                      onOpen={onOpen}
                    />
                  ) : null;
                })}
              </div>
            )}
          </div>
          {newRows > 0 && (
            <button type="button" className="new-pill" onClick={() => setFollowing(true)} data-testid="new-pill">
              <Icon name="down" /> {num(newRows)} new
            </button>
          )}
        </div>
      </section>
      {selected && <SessionPanel event={selected} onClose={() => setSelected(null)} />}
    </div>
  );
}
