// The setup check's report (docs/design.md §5): what the doctor returns, the API
// carries and the dashboard's Setup page shows.
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  id: string;
  status: CheckStatus;
  title: string;
  detail: string;
  fix: string;
}

export interface DoctorReport {
  checks: DoctorCheck[];
  ranAt: string;
}
