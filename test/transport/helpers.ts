// Shared helpers for the transport tests (not a test file itself: tap runs *.test.ts only).

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = resolve(here, '..', '..')

/** The first working C compiler among $CC, cc, gcc, clang; null when there is none. */
export function findCompiler(): string | null {
  const candidates = [process.env['CC'], 'cc', 'gcc', 'clang'].filter((c): c is string => !!c)
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' })
    if (r.status === 0) return c
  }
  return null
}

/** Compiles C sources into a fresh temporary directory; returns the binary path or throws with the diagnostics. */
export function compileC(cc: string, sources: string[], extraArgs: string[] = []): { bin: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-wire-'))
  const bin = join(dir, 'a.out')
  const args = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-I', join(repoRoot, 'bpf'), ...extraArgs, ...sources, '-o', bin]
  const r = spawnSync(cc, args, { encoding: 'utf8' })
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`${cc} ${args.join(' ')} failed:\n${r.stderr}${r.error?.message ?? ''}`)
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Runs a binary with stdin, returns stdout (throws on a non-zero exit). */
export function run(bin: string, args: string[], input = ''): string {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`${bin} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

/** A small seeded PRNG (mulberry32): the same seed gives the same test inputs. */
export function rng(seed: number): { u32: () => number; int: (n: number) => number; bytes: (n: number) => Uint8Array } {
  let s = seed >>> 0
  const u32 = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  const int = (n: number): number => u32() % n
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = u32() & 0xff
    return b
  }
  return { u32, int, bytes }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')
}
