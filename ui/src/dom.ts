// Tiny DOM helpers: the page is plain DOM and SVG, no framework.
const SVG_NS = 'http://www.w3.org/2000/svg'

type Attrs = Record<string, string | number | boolean | null | undefined>

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) el.removeAttribute(k)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
}

/** An HTML element with attributes and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  for (const c of children) if (c !== null) el.append(c)
  return el
}

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag)
  setAttrs(el, attrs)
  for (const c of children) if (c !== null) el.append(c)
  return el
}

/** Sets attributes only when they changed (cheap per-frame updates). */
export function attrs(el: Element, a: Attrs): void {
  for (const [k, v] of Object.entries(a)) {
    const str = v === null || v === undefined || v === false ? null : v === true ? '' : String(v)
    if (el.getAttribute(k) !== str) {
      if (str === null) el.removeAttribute(k)
      else el.setAttribute(k, str)
    }
  }
}

export function text(el: Element, t: string): void {
  if (el.textContent !== t) el.textContent = t
}

export function byId<T extends HTMLElement | SVGElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} missing from the page`)
  return el as unknown as T
}

/** Colour of a Raft term: a stable hue per term, so entries and servers of a term match. */
export function termColor(term: number, light = false): string {
  if (term <= 0) return light ? '#e5e7eb' : '#9ca3af'
  const hue = (term * 67) % 360
  return light ? `hsl(${hue} 70% 88%)` : `hsl(${hue} 55% 45%)`
}

export function fmtMs(ms: number): string {
  if (Math.abs(ms) < 1) return `${ms.toFixed(2)} ms`
  if (Math.abs(ms) < 1000) return `${ms.toFixed(1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}
