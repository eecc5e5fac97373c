// One SMTP or delivery step as the side panels show it (the live log's session panel
// and the Messages page's message panel): time, verdict, stage, rule, then the reply.
import type { EventVerdict, GatewayEvent } from '../api.ts';
import { clock, STAGE_LABEL, VERDICT_LABEL } from '../format.ts';
import { Icon, VERDICT_ICON } from './Icon.tsx';

/** A verdict in a word and an icon (never colour alone). */
export function VerdictBadge({ verdict }: { verdict: EventVerdict }) {
  return (
    <span className={`badge v-${verdict}`}>
      <Icon name={VERDICT_ICON[verdict]} className="badge-icon" />
      {VERDICT_LABEL[verdict]}
    </span>
  );
}

export function StepHead({ step, title }: { step: GatewayEvent; title?: string }) {
  return (
    <>
      <div className="step-head">
        <time dateTime={step.time} title={title}>
          {clock(step.time)}
        </time>
        <VerdictBadge verdict={step.verdict} />
        <span className="step-stage">{STAGE_LABEL[step.stage]}</span>
        <span className="step-rule muted">{step.rule}</span>
      </div>
      <p className="step-reply mono">
        {step.code ? <strong>{step.code} </strong> : null}
        {step.text}
      </p>
    </>
  );
}
