// Builds the visualizer (ui/) into ui/dist: one bundled ES module, its stylesheet and page. Run at
// install (`npm run build:ui`, from the prepare script) and by a node at start when dist is missing.
// esbuild bundles everything: the page loads nothing from anywhere but the node serving it.
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const uiRoot = fileURLToPath(new URL('../../ui/', import.meta.url))
export const uiDist = join(uiRoot, 'dist')

export async function buildUi(outDir = uiDist): Promise<void> {
  const esbuild = await import('esbuild')
  await mkdir(outDir, { recursive: true })
  await esbuild.build({
    entryPoints: [join(uiRoot, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(outDir, 'app.js'),
    logLevel: 'warning',
  })
  await copyFile(join(uiRoot, 'index.html'), join(outDir, 'index.html'))
  await copyFile(join(uiRoot, 'style.css'), join(outDir, 'style.css'))
}

async function mtime(path: string): Promise<number> {
  return (await stat(path)).mtimeMs
}

/** Whether dist holds a build newer than every source (a checkout with edited sources rebuilds). */
export async function uiBuilt(outDir = uiDist): Promise<boolean> {
  try {
    const built = Math.min(...(await Promise.all(['app.js', 'index.html', 'style.css'].map((f) => mtime(join(outDir, f))))))
    const srcDir = join(uiRoot, 'src')
    const sources = [join(uiRoot, 'index.html'), join(uiRoot, 'style.css'), fileURLToPath(new URL('./json.ts', import.meta.url)), ...(await readdir(srcDir)).map((f) => join(srcDir, f))]
    const newest = Math.max(...(await Promise.all(sources.map(mtime))))
    return built >= newest
  } catch {
    // No dist, or no sources (an installed package ships only dist): build if dist is missing.
    try {
      await stat(join(outDir, 'app.js'))
      return true
    } catch {
      return false
    }
  }
}
