// mailauth's SPF term validator is not in its public typings (pinned 7.1.0).
declare module 'mailauth/lib/spf/syntax.js' {
  /** Returns an error message for the first invalid term, or false. */
  export function validateTerms(terms: string[]): string | false;
  const syntax: { validateTerms: typeof validateTerms };
  export default syntax;
}
