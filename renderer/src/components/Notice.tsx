// Shared bits of the pages: the "not available yet" notice and error lines.
import type { ApiErrorCode } from '../api.ts';

export function Unavailable({ what, message }: { what: string; message: string }) {
  return (
    <div className="notice" role="status" data-testid="unavailable">
      <strong>{what} is not available in this version of Postern yet.</strong>
      {!/not available/i.test(message) && <p className="muted">{message}</p>}
    </div>
  );
}

export function ErrorLine({ error }: { error: { code: ApiErrorCode; message: string } | string | null | undefined }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message;
  return (
    <p className="error" role="alert">
      <span aria-hidden="true">✕ </span>
      {message}
    </p>
  );
}
