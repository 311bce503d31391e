import type { NodeId } from '../raft/types.ts'

/** This node is not the leader; `leader` is who is (0 when unknown). Nothing was proposed. */
export class NotLeaderError extends Error {
  constructor(readonly leader: NodeId) {
    super(leader ? `not the leader; the leader is node ${leader}` : 'no raft leader')
    this.name = 'NotLeaderError'
  }
}

/** The proposal was refused before it entered the log: it definitely did not happen. */
export class RefusedError extends Error {
  constructor(readonly reason: string) {
    super(`proposal refused: ${reason}`)
    this.name = 'RefusedError'
  }
}

/** Another entry took the proposal's place in the log: it definitely did not happen. */
export class DroppedError extends Error {
  constructor(index: number) {
    super(`proposal at index ${index} was overwritten by a new leader`)
    this.name = 'DroppedError'
  }
}

/**
 * The outcome is unknown: the entry may still commit (or may already have). Callers must report
 * this as indeterminate, never as a failure.
 */
export class UnknownOutcomeError extends Error {
  constructor(why: string) {
    super(`not committed yet: ${why}`)
    this.name = 'UnknownOutcomeError'
  }
}

/** A read could not be confirmed (leadership changed or timed out); nothing happened, retry. */
export class ReadFailedError extends Error {
  constructor(why: string) {
    super(`read not confirmed: ${why}`)
    this.name = 'ReadFailedError'
  }
}
