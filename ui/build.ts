// `npm run build:ui`: bundles the visualizer into ui/dist (see src/observe/uibuild.ts).
import { buildUi, uiDist } from '../src/observe/uibuild.ts'

await buildUi()
console.log(`visualizer built into ${uiDist}`)
