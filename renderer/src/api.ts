// The contract, as the renderer sees it: types only from core/api.ts (never core
// internals), plus the method list from core/api-methods.ts, the one core value the
// renderer takes (a list of names, checked against GatewayApi at compile time).
import type { ApiMethod, GatewayApi } from '../../core/api.ts';

export type * from '../../core/api.ts';

export { API_METHODS as METHODS } from '../../core/api-methods.ts';

/** The single argument of a method, as a tuple ([] for methods without one). */
export type ArgsOf<M extends ApiMethod> = Parameters<GatewayApi[M]>;
/** What a method resolves to. */
export type ValueOf<M extends ApiMethod> = Awaited<ReturnType<GatewayApi[M]>>;
