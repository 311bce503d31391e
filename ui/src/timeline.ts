// The time the page shows. Live by default (a little behind "now", so every member's latest batch
// has arrived); paused at a moment; or replaying from a moment at a chosen speed until it catches
// up with live. The slider spans what the store holds (the last few minutes).
import { fmtMs, h } from './dom.ts'
import type { Store } from './store.ts'

export type Mode = 'live' | 'paused' | 'replay'

/** How far behind now "live" draws: the streams send every 100 ms and status every 250 ms. */
const LIVE_LAG_MS = 300

export class Timeline {
  mode: Mode = 'live'
  private at = 0
  private replayFrom = 0
  private replayStart = 0
  speed = 0.25
  private readonly slider: HTMLInputElement
  private readonly label: HTMLSpanElement
  private readonly buttons: Record<Mode, HTMLButtonElement>

  constructor(
    root: HTMLElement,
    private readonly store: Store,
    private readonly skew: () => number,
  ) {
    this.slider = h('input', { type: 'range', min: 0, max: 1000, value: 1000, step: 1, 'aria-label': 'time', id: 'time-slider' })
    this.label = h('span', { class: 'time-label', id: 'time-label' }, 'live')
    const live = h('button', { id: 'btn-live', title: 'follow the cluster live' }, '● Live')
    const pause = h('button', { id: 'btn-pause', title: 'freeze the view' }, '❚❚ Pause')
    const replay = h('button', { id: 'btn-replay', title: 'replay from the slider position' }, '▶ Replay')
    const speed = h('select', { id: 'replay-speed', title: 'replay speed' })
    for (const v of [0.05, 0.25, 1, 4]) speed.append(h('option', { value: v, selected: v === this.speed }, `×${v}`))
    this.buttons = { live, paused: pause, replay }
    live.onclick = () => (this.mode = 'live')
    pause.onclick = () => this.pause(this.now())
    replay.onclick = () => this.replay(this.mode === 'live' ? this.store.span()[0] : this.now())
    speed.onchange = () => {
      const t = this.now()
      this.speed = Number(speed.value)
      if (this.mode === 'replay') this.replay(t)
    }
    this.slider.oninput = () => {
      const [lo, hi] = this.range()
      this.pause(lo + ((hi - lo) * Number(this.slider.value)) / 1000)
    }
    root.append(live, pause, replay, speed, this.slider, this.label)
  }

  /** The live edge: now on the cluster's clock, minus the lag. */
  liveEdge(): number {
    return Date.now() + this.skew() - LIVE_LAG_MS
  }

  private range(): [number, number] {
    const [lo] = this.store.span()
    const hi = this.liveEdge()
    return [Number.isFinite(lo) ? Math.min(lo, hi) : hi - 1000, hi]
  }

  pause(t: number): void {
    this.mode = 'paused'
    this.at = t
  }

  replay(from: number): void {
    this.mode = 'replay'
    this.replayFrom = from
    this.replayStart = performance.now()
  }

  /** The time to draw. */
  now(): number {
    switch (this.mode) {
      case 'live':
        return this.liveEdge()
      case 'paused':
        return this.at
      case 'replay': {
        const t = this.replayFrom + (performance.now() - this.replayStart) * this.speed
        if (t >= this.liveEdge()) {
          this.mode = 'live'
          return this.liveEdge()
        }
        return t
      }
    }
  }

  /** How fast drawn time passes per real ms (animations scale with it). */
  rate(): number {
    return this.mode === 'live' ? 1 : this.mode === 'paused' ? 0 : this.speed
  }

  /** Updates the slider and label for time T. */
  render(T: number): void {
    const [lo, hi] = this.range()
    if (document.activeElement !== this.slider) this.slider.value = String(Math.round(hi > lo ? ((T - lo) / (hi - lo)) * 1000 : 1000))
    const behind = hi - T
    const text = this.mode === 'live' ? 'live' : `${this.mode === 'paused' ? 'paused' : `replay ×${this.speed}`} · ${fmtMs(behind)} ago`
    if (this.label.textContent !== text) this.label.textContent = text
    for (const [m, b] of Object.entries(this.buttons)) b.classList.toggle('active', m === this.mode)
  }
}
