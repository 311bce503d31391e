// How the REST API reports a failed write or read. The rule (DESIGN §6): a definite error only
// when nothing happened; a write that may still commit is always "outcome unknown" (504).
import { DroppedError, NotLeaderError, ReadFailedError, RefusedError, UnknownOutcomeError } from '../errors.ts'

export interface HttpFailure {
  code: number
  body: Record<string, unknown>
}

export const NO_LEADER: HttpFailure = { code: 503, body: { error: 'no raft leader', leader: 0 } }

export function unknownOutcome(detail: string): HttpFailure {
  return { code: 504, body: { error: 'not committed yet', outcome: 'unknown', detail } }
}

/** A write's failure. Anything unrecognised is reported as unknown: it may have been proposed. */
export function writeFailure(e: unknown): HttpFailure {
  if (e instanceof NotLeaderError) return { code: 503, body: { error: e.leader ? e.message : 'no raft leader', leader: e.leader } }
  if (e instanceof DroppedError || e instanceof RefusedError) return { code: 503, body: { error: e.message, outcome: 'not-applied' } }
  if (e instanceof UnknownOutcomeError) return unknownOutcome(e.message)
  return unknownOutcome(e instanceof Error ? e.message : String(e))
}

/** A read's failure: reads change nothing, so anything known is a retryable 503. */
export function readFailure(e: unknown): HttpFailure {
  if (e instanceof NotLeaderError) return { code: 503, body: { error: 'no raft leader', leader: e.leader } }
  if (e instanceof ReadFailedError) return { code: 503, body: { error: e.message } }
  throw e
}
