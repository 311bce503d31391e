// DurablePublisher derives the published state from persisted Readies only.

import t from 'tap'
import { defaultConfig, type RestoredState } from '../../src/raft/config.ts'
import { RawNode } from '../../src/raft/rawnode.ts'
import { EntryType, MsgType, type Ready } from '../../src/raft/types.ts'
import { DurablePublisher } from '../../src/offload/publisher.ts'
import { SharedState, STATE_LAYOUT } from '../../src/offload/state.ts'
import { KEY, MS, msg } from './helpers.ts'

const cfgPub = { nodeId: 1, clusterId: 7, port: 7001, key: KEY, checkQuorum: true, electionTimeoutNs: 150n * MS, leaseMarginNs: 20n * MS, aliveMaxNs: 500n * MS }
const ent = (index: number, term: number) => ({ index, term, type: EntryType.Normal, data: new Uint8Array(0) })

function node(id: number, log: number[], term: number, commit: number): { raw: RawNode; pub: DurablePublisher } {
  const st: RestoredState = {
    hardState: { term, vote: 0, commit },
    snapshot: { index: 0, term: 0, conf: { voters: [1, 2, 3], learners: [] } },
    entries: log.map((tm, i) => ent(i + 1, tm)),
    applied: commit,
  }
  const raw = new RawNode({ ...defaultConfig, id, preVote: false, random: () => 0.99 }, st)
  const pub = new DurablePublisher({ ...cfgPub, nodeId: id }, {
    term, vote: 0, commit, lastIndex: log.length, lastTerm: log.at(-1) ?? 0, conf: st.snapshot.conf,
    recent: log.map((tm, i) => ({ index: i + 1, term: tm })), quietUntilNs: 0n,
  })
  return { raw, pub }
}

function cycle(raw: RawNode, pub: DurablePublisher, now: bigint): { rd: Ready; state: ReturnType<DurablePublisher['persisted']> } {
  const rd = raw.ready()
  const state = pub.persisted(rd, now, raw.status().conf)
  raw.advance(rd)
  return { rd, state }
}

t.test('candidate → leader: vote, epoch bump, term start', async (t) => {
  const { raw, pub } = node(1, [1, 1, 2], 2, 1)
  raw.campaign()
  let { state } = cycle(raw, pub, 100n)
  t.match(state, { role: 'candidate', term: 3, votedFor: 1, leader: 0, lastIndex: 3, lastTerm: 2, commit: 1, termStart: 0, newCampaign: true })
  t.same(state.entries, [{ index: 1, term: 1 }, { index: 2, term: 1 }, { index: 3, term: 2 }], 'the durable tail at start goes into the ring')
  raw.step(msg(MsgType.VoteResp, 2, 1, 3))
  ;({ state } = cycle(raw, pub, 200n))
  t.match(state, { role: 'leader', leader: 1, term: 3, lastIndex: 4, lastTerm: 3, termStart: 4, newCampaign: false })
  t.same(state.entries, [{ index: 4, term: 3 }], 'only the newly persisted entry')
  // The published state lands in a slot as given.
  const s = new SharedState(new ArrayBuffer(STATE_LAYOUT.slotSize), 0)
  s.publish(state)
  t.match(s.readUser(), { term: 3, lastIndex: 4, lastTerm: 3, leader: 1, votedFor: 1 })
})

t.test('follower: entries, truncation, leader contact, vote grant', async (t) => {
  const { raw, pub } = node(2, [1, 1, 2, 2], 2, 2)
  cycle(raw, pub, 1n)
  // A leader of term 3 replaces entries 3, 4 with one entry of term 3.
  const app = msg(MsgType.Append as never, 1, 2, 3, { index: 2, logTerm: 1, commit: 2, entries: [ent(3, 3)] })
  raw.step(app)
  pub.noteLeaderContact(50n)
  let { state, rd } = cycle(raw, pub, 60n)
  t.equal(rd.persistedMessages.length, 1, 'an ack waits for the persist')
  t.match(state, { role: 'follower', leader: 1, term: 3, lastIndex: 3, lastTerm: 3, commit: 2 })
  t.ok(state.contactNs >= 50n, 'leader contact published')
  t.same(state.entries, [{ index: 3, term: 3 }], 'the replacing entry; index 4 is beyond lastIndex')
  // A vote for a candidate of term 4 (out of lease: tick past the election timeout first).
  for (let i = 0; i < defaultConfig.electionTick; i++) raw.tick()
  cycle(raw, pub, 70n)
  raw.step(msg(MsgType.Vote, 3, 2, 4, { index: 3, logTerm: 3 }))
  ;({ state } = cycle(raw, pub, 900n))
  t.match(state, { term: 4, votedFor: 3, leader: 0 })
  t.equal(state.contactNs, 900n, 'a grant resets the election timer')
})
