// Redis's glob matcher (util.c stringmatchlen), byte for byte: KEYS and SCAN MATCH must select
// exactly the keys Redis would. `*` `?` `[abc]` `[^a-z]` and `\` escapes; ranges compare signed
// chars as C does; a nesting guard stops abusive patterns.

function signed(b: number): number {
  return (b << 24) >> 24
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 32 : b
}

interface State {
  skipLonger: boolean
}

function match(p: Uint8Array, pi: number, s: Uint8Array, si: number, nocase: boolean, st: State, nesting: number): boolean {
  if (nesting > 1000) return false
  let plen = p.length - pi
  let slen = s.length - si
  while (plen > 0 && slen > 0) {
    switch (p[pi]) {
      case 0x2a: {
        // '*': collapse runs, then try every suffix of the string.
        while (plen > 1 && p[pi + 1] === 0x2a) {
          pi++
          plen--
        }
        if (plen === 1) return true
        while (slen > 0) {
          if (match(p, pi + 1, s, si, nocase, st, nesting + 1)) return true
          if (st.skipLonger) return false
          si++
          slen--
        }
        // No match for the rest anywhere in the string: earlier stars cannot help either.
        st.skipLonger = true
        return false
      }
      case 0x3f: // '?'
        si++
        slen--
        break
      case 0x5b: {
        // '[': a character class.
        pi++
        plen--
        const not = p[pi] === 0x5e
        if (not) {
          pi++
          plen--
        }
        let ok = false
        for (;;) {
          if (p[pi] === 0x5c && plen >= 2) {
            pi++
            plen--
            if (p[pi] === s[si]) ok = true
          } else if (p[pi] === 0x5d) {
            break
          } else if (plen === 0) {
            pi--
            plen++
            break
          } else if (plen >= 3 && p[pi + 1] === 0x2d) {
            let start = signed(p[pi]!)
            let end = signed(p[pi + 2]!)
            let c = signed(s[si]!)
            if (start > end) [start, end] = [end, start]
            if (nocase) {
              start = lower(start)
              end = lower(end)
              c = lower(c)
            }
            pi += 2
            plen -= 2
            if (c >= start && c <= end) ok = true
          } else if (nocase ? lower(p[pi]!) === lower(s[si]!) : p[pi] === s[si]) {
            ok = true
          }
          pi++
          plen--
        }
        if (not) ok = !ok
        if (!ok) return false
        si++
        slen--
        break
      }
      default: {
        if (p[pi] === 0x5c && plen >= 2) {
          pi++
          plen--
        }
        if (nocase ? lower(p[pi]!) !== lower(s[si]!) : p[pi] !== s[si]) return false
        si++
        slen--
        break
      }
    }
    pi++
    plen--
    if (slen === 0) {
      while (p[pi] === 0x2a) {
        pi++
        plen--
      }
      break
    }
  }
  return plen === 0 && slen === 0
}

/** Whether `s` matches the glob `pattern` (Redis semantics). */
export function globMatch(pattern: Uint8Array, s: Uint8Array, nocase = false): boolean {
  if (pattern.length === 1 && pattern[0] === 0x2a) return true
  return match(pattern, 0, s, 0, nocase, { skipLonger: false }, 0)
}

/** The literal bytes every match must start with (up to the first special character). */
export function literalPrefix(pattern: Uint8Array): Uint8Array {
  let i = 0
  while (i < pattern.length) {
    const c = pattern[i]!
    if (c === 0x2a || c === 0x3f || c === 0x5b || c === 0x5c) break
    i++
  }
  return pattern.subarray(0, i)
}
