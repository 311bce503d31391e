// Everything a seed decides about its run before it starts: cluster size, Raft settings, storage
// latency, how hostile the network and the nemesis are, and what the clients do. Drawn from its own
// generator, separate from the one that drives the run, so the two never share a stream.
import { defaultConfig } from '../../src/raft/config.ts'
import type { NodeOptions } from './cluster.ts'
import type { NemesisOptions } from './nemesis.ts'
import type { NetFaults } from './network.ts'
import { Rng } from './rng.ts'
import type { WorkloadOptions } from './workload.ts'

export type Profile = 'calm' | 'lossy' | 'partitions' | 'crashes' | 'chaos'

export interface Scenario {
  seed: number
  size: number
  profile: Profile
  node: NodeOptions
  nemesis: NemesisOptions
  workload: WorkloadOptions
  /** Virtual time of the fault phase, then the bound for the healed cluster to converge. */
  faultTime: number
  livenessTime: number
  /** Writes that must commit after healing. */
  mustCommit: number
}

/** Virtual time units per tick (nominal). Message delays of 2–20 units are "LAN" latency. */
export const TICK = 100

export interface ScenarioOverrides {
  size?: number
  /** Length of the fault phase in ticks. */
  faultTicks?: number
}

export const DEFAULT_FAULT_TICKS = 150

export function scenarioFor(seed: number, o: ScenarioOverrides = {}): Scenario {
  // A separate generator: the scenario stream never shares state with the run's stream.
  const rng = new Rng(seed ^ 0x5eed5eed)
  const size = o.size ?? rng.pick([3, 3, 5, 5, 5, 7])
  const profile = rng.weighted<Profile>({ calm: 1, lossy: 2, partitions: 3, crashes: 3, chaos: 4 })
  const electionTick = rng.range(8, 12)
  const lease = rng.chance(0.2)
  const small = rng.chance(0.3)

  const calm: NetFaults = { drop: 0, dup: 0, delayMin: 2, delayMax: rng.range(10, 30), slow: 0, slowMax: 0 }
  const lossy: NetFaults = {
    drop: 0.02 + rng.next() * 0.2,
    dup: rng.next() * 0.1,
    delayMin: 2,
    delayMax: rng.range(20, 60),
    slow: rng.next() * 0.1,
    slowMax: rng.range(200, 1500),
  }
  const w = (on: boolean, x: number): number => (on ? x : 0)
  const parts = profile === 'partitions' || profile === 'chaos'
  const crashes = profile === 'crashes' || profile === 'chaos'
  const loss = profile === 'lossy' || profile === 'chaos'

  const node: NodeOptions = {
    raft: {
      ...defaultConfig,
      electionTick,
      heartbeatTick: 1,
      preVote: true,
      checkQuorum: true,
      readOnly: lease ? 'lease' : 'safe',
      leaseMarginTicks: 2,
      // Small limits on some seeds force multi-message catch-up, full windows and backpressure.
      maxSizePerMsg: small ? rng.range(30, 200) : defaultConfig.maxSizePerMsg,
      maxInflightMsgs: small ? rng.range(1, 4) : rng.range(8, 256),
      maxInflightBytes: small ? rng.range(100, 1000) : defaultConfig.maxInflightBytes,
      maxUncommittedBytes: small && rng.chance(0.5) ? rng.range(200, 2000) : defaultConfig.maxUncommittedBytes,
    },
    interleave: rng.chance(0.5),
    persistMin: 1,
    persistMax: rng.range(3, 25),
    slowPersist: rng.next() * (crashes ? 0.12 : 0.05),
    slowPersistMax: rng.range(50, 300),
    crashInPersist: crashes ? 0.002 + rng.next() * 0.01 : 0,
    restartMin: TICK * 2,
    restartMax: TICK * rng.range(5, 30),
    snapshotEvery: rng.range(8, 40),
    tickInterval: TICK,
    clockDrift: 0.02,
  }

  const nemesis: NemesisOptions = {
    gap: TICK * rng.range(6, 20),
    mix: {
      partition: w(parts, 4) + 0.5,
      cutLinks: w(parts, 1),
      heal: w(parts, 3) + 1,
      crash: w(crashes, 4) + 0.5,
      restart: w(crashes, 2) + 0.5,
      lossy: w(loss, 3) + 0.3,
      calm: 1,
      // A paused leader wakes up believing no time passed: with lease reads that is a stale read
      // by construction (leases assume bounded pauses), so pauses run only with ReadIndex reads.
      pause: lease ? 0 : w(crashes || parts, 1) + 0.2,
    },
    pauseMax: TICK * electionTick * 3,
    restartMin: TICK * 2,
    restartMax: TICK * rng.range(10, 40),
    calm,
    lossy,
  }

  const workload: WorkloadOptions = {
    clientGap: TICK * (0.2 + rng.next() * 0.6),
    mix: { write: 10, batch: 3, read: 5, conf: 0.6 + rng.next(), transfer: 0.3 + rng.next() * 0.5, campaign: 0.2 },
    maxVoters: 7,
    maxLearners: 2,
  }

  return {
    seed,
    size,
    profile,
    node,
    nemesis,
    workload,
    faultTime: TICK * (o.faultTicks ?? DEFAULT_FAULT_TICKS),
    livenessTime: TICK * 120,
    mustCommit: 3,
  }
}
