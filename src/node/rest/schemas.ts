// JSON schemas shared by the REST routes. Fastify validates requests against them (a 400 with
// fastify's validation message on bad input) and @fastify/swagger builds the OpenAPI document
// from them, so every constraint here is both enforced and documented.

/** The longest key the REST API accepts (characters of the decoded path segment). */
export const MAX_KEY_LENGTH = 4096
/** Listing page sizes. */
export const MAX_LIST_LIMIT = 1000
export const DEFAULT_LIST_LIMIT = 100
/** TTL bounds: at least 1 (Redis refuses EX 0 too), at most ~68 years in seconds. */
export const MAX_TTL_SECONDS = 2_147_483_647
export const MAX_TTL_MS = 2_147_483_647_000

/** A revision in a validator: 0 (absent) or a Raft index, as a bare or quoted integer. */
const REV = '(0|[1-9][0-9]{0,15})'

export const keyParams = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'The key (URL-encoded UTF-8).' } },
} as const

export const consistencyProp = {
  type: 'string',
  enum: ['linearizable', 'stale'],
  default: 'linearizable',
  description: 'linearizable (default): confirmed with the leader first (ReadIndex); stale: this node\'s local state.',
} as const

export const errorBody = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    leader: { type: 'integer' },
    outcome: { type: 'string', enum: ['unknown', 'not-applied'] },
    detail: { type: 'string' },
  },
  additionalProperties: true,
} as const

/** A conflict of a conditional write: the key's revision now (0 = absent). */
export const preconditionBody = {
  type: 'object',
  required: ['error', 'rev'],
  properties: { error: { type: 'string' }, rev: { type: 'integer' } },
} as const

/** Responses every write can give besides its success: bad input, no leader, unknown outcome. */
export const writeErrors = {
  400: { description: 'Bad input (validation message).', ...errorBody },
  412: { description: 'Precondition failed: the key\'s current revision is in `rev` (and the Raftkv-Revision header).', ...preconditionBody },
  503: { description: 'No raft leader, or the write was definitely not applied: retry.', ...errorBody },
  504: { description: 'Not committed yet: the outcome is unknown (retry with the same Idempotency-Key).', ...errorBody },
} as const

export const readErrors = {
  400: { description: 'Bad input (validation message).', ...errorBody },
  503: { description: 'The read could not be confirmed with a leader: retry.', ...errorBody },
} as const

export const writeQuery = {
  type: 'object',
  properties: {
    ttl: { type: 'integer', minimum: 1, maximum: MAX_TTL_SECONDS, description: 'Time to live in seconds.' },
    px: { type: 'integer', minimum: 1, maximum: MAX_TTL_MS, description: 'Time to live in milliseconds.' },
    redirect: { type: 'string', enum: ['0', '1', 'true', 'false'], description: 'On a follower: answer 307 to the leader instead of proxying.' },
  },
  additionalProperties: false,
} as const

/** Headers of every write (fastify lower-cases header names before validating). */
const writeHeaderProps = {
  'if-match': { type: 'string', pattern: `^(\\*|"${REV}"|${REV})$`, description: 'Write only if the key\'s revision is this ("0" = absent; * = exists).' },
  'if-none-match': { type: 'string', pattern: '^\\*$', description: '* = create only (the key must not exist).' },
  'idempotency-key': { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$', description: 'Retries with the same key are applied once and get the first reply.' },
  'raftkv-redirect': { type: 'string', enum: ['0', '1'], description: '1: on a follower, answer 307 to the leader instead of proxying.' },
} as const

export const deleteHeaders = { type: 'object', properties: writeHeaderProps } as const

export const writeHeaders = {
  type: 'object',
  properties: {
    ...writeHeaderProps,
    'raftkv-ttl': { type: 'string', pattern: '^[1-9][0-9]{0,9}$', description: 'Time to live in seconds (like ?ttl=).' },
  },
} as const

export const writeOk = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    rev: { type: 'integer', description: 'The new revision (conditional writes only).' },
    deleted: { type: 'integer', description: 'Keys removed (DELETE).' },
  },
} as const

export const listItem = {
  type: 'object',
  required: ['key', 'value', 'rev', 'ttlMs'],
  properties: {
    key: { type: 'string' },
    keyEncoding: { type: 'string', enum: ['base64'], description: 'Present when the key is not valid UTF-8.' },
    value: { type: 'string' },
    encoding: { type: 'string', enum: ['base64'], description: 'Present when the value is not valid UTF-8.' },
    rev: { type: 'integer' },
    ttlMs: { type: ['integer', 'null'], description: 'Milliseconds left to live; null without expiry.' },
  },
} as const
