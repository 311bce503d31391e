// Replies of the key-value service, independent of the wire (RESP2, RESP3 or JSON).

export type Reply =
  | { k: 'status'; v: string }
  | { k: 'error'; v: string }
  | { k: 'int'; v: number | bigint }
  | { k: 'bulk'; v: Uint8Array | null }
  | { k: 'double'; v: number }
  | { k: 'array'; v: Reply[] | null }
  | { k: 'map'; v: [Reply, Reply][] }
  | { k: 'bool'; v: boolean }
  | { k: 'null' }
  /** RESP3 verbatim text (INFO, CLIENT LIST, CLUSTER NODES); a bulk string in RESP2. */
  | { k: 'verbatim'; v: string }
  /** RESP3 set (COMMAND INFO flags); an array in RESP2. */
  | { k: 'set'; v: Reply[] }

export const OK: Reply = { k: 'status', v: 'OK' }
export const NIL: Reply = { k: 'bulk', v: null }
export const NULL_ARRAY: Reply = { k: 'array', v: null }

export const status = (v: string): Reply => ({ k: 'status', v })
export const err = (v: string): Reply => ({ k: 'error', v })
export const int = (v: number | bigint): Reply => ({ k: 'int', v })
export const bulk = (v: Uint8Array | null): Reply => ({ k: 'bulk', v })
export const arr = (v: Reply[]): Reply => ({ k: 'array', v })

const enc = new TextEncoder()
export const bulkStr = (s: string): Reply => ({ k: 'bulk', v: enc.encode(s) })

/** Redis's exact error texts, in one place. */
export const E = {
  syntax: 'ERR syntax error',
  notInt: 'ERR value is not an integer or out of range',
  notFloat: 'ERR value is not a valid float',
  overflow: 'ERR increment or decrement would overflow',
  nanOrInf: 'ERR increment would produce NaN or Infinity',
  wrongType: 'WRONGTYPE Operation against a key holding the wrong kind of value',
  noSuchKey: 'ERR no such key',
  invalidExpire: (cmd: string) => `ERR invalid expire time in '${cmd}' command`,
  offsetRange: 'ERR offset is out of range',
  maxSize: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
  arity: (cmd: string) => `ERR wrong number of arguments for '${cmd}' command`,
  unknown: (cmd: string, args: string) => `ERR unknown command '${cmd}', with args beginning with: ${args}`,
  noAuth: 'NOAUTH Authentication required.',
  wrongPass: 'WRONGPASS invalid username-password pair or user is disabled.',
  noPassSet: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  execAbort: 'EXECABORT Transaction discarded because of previous errors.',
  nestedMulti: 'ERR MULTI calls can not be nested',
  execNoMulti: 'ERR EXEC without MULTI',
  discardNoMulti: 'ERR DISCARD without MULTI',
  watchInMulti: 'ERR WATCH inside MULTI is not allowed',
  dbIndex: 'ERR DB index is out of range',
  clusterDown: 'CLUSTERDOWN No raft leader',
  timeout: 'TIMEOUT not committed yet',
  /** A linearizable read could not be confirmed in time (nothing happened; retry). */
  readTimeout: 'TRYAGAIN read not confirmed by a quorum yet, retry',
  decrOverflow: 'ERR decrement would overflow',
  invalidCursor: 'ERR invalid cursor',
  unknownSub: (sub: string, cmd: string) => `ERR unknown subcommand '${sub}'. Try ${cmd} HELP.`,
  unsupportedOption: (opt: string) => `ERR Unsupported option ${opt}`,
  expireFlags: 'ERR NX and XX, GT or LT options at the same time are not compatible',
  expireGtLt: 'ERR GT and LT options at the same time are not compatible',
  clientName: 'ERR Client names cannot contain spaces, newlines or special characters.',
  noProto: 'NOPROTO unsupported protocol version',
  protoNotInt: 'ERR Protocol version is not an integer or out of range',
  notInMulti: 'ERR Command not allowed inside a transaction',
} as const
