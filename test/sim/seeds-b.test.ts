// A second range of simulation seeds in its own file, so tap's two jobs run the ranges in parallel.
import t from 'tap'
import { runSeedRange, seedCount } from './seeds.ts'

const count = seedCount(1000)
t.test(`seeds 100001-${100000 + count}: no violations`, async (t) => {
  runSeedRange(t, 100001, count)
})
