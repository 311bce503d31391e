// Taking a module's own flags out of the `raftkv node` command line (both `--flag v` and
// `--flag=v`; boolean flags bare), leaving the rest for the next parser. Everything after `--`
// is left alone.
export function takeFlags(
  argv: readonly string[],
  valueFlags: readonly string[],
  boolFlags: readonly string[],
  usageError: (message: string) => Error,
): { found: Map<string, string>; rest: string[] } {
  const found = new Map<string, string>()
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      rest.push(...argv.slice(i))
      break
    }
    const b = boolFlags.find((f) => a === `--${f}`)
    if (b) {
      found.set(b, 'true')
      continue
    }
    const flag = valueFlags.find((f) => a === `--${f}` || a.startsWith(`--${f}=`))
    if (!flag) {
      rest.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i]
    if (v === undefined) throw usageError(`--${flag} needs a value`)
    found.set(flag, v)
  }
  return { found, rest }
}
