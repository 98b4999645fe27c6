/** Exit codes with the meaning pbs_mom gives them (shared/reference/torque-contract.md). */
export const HookExit = {
  /** the job runs */
  ok: 0,
  /** the job is aborted (permanent error) */
  abort: 1,
  /** the job is requeued and started again (transient error, within the retry bound) */
  requeue: 2,
} as const;

/** The exit status of a job that never ran (its prologue failed it, or its guest could not be reached or was lost), as ssh reports a failed connection. */
export const failedJobExitStatus = 255;
