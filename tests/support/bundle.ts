/**
 * The browser bundle of `./indexeddb` (IndexedDbStorage and what it imports),
 * as `deno bundle --platform browser --minify` makes it: measured by the
 * bundle-size test and reported by the benchmarks.
 *
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;

/** The minified bundle's bytes, and its size gzipped. */
export interface Bundle {
  bytes: Uint8Array<ArrayBuffer>;
  gzipped: number;
}

/** Bundles IndexedDbStorage into `dir` (a scratch directory) and measures it. */
export async function bundleIndexedDb(dir: string): Promise<Bundle> {
  const entry = `${dir}/entry.ts`;
  await Deno.writeTextFile(entry, `export { IndexedDbStorage } from "${root}backends/indexeddb.ts";\n`);
  const out = `${dir}/indexeddb.js`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--minify", "--config", `${root}deno.json`, "-o", out, entry],
    env: { NO_COLOR: "1" },
  }).output();
  if (code !== 0) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  const bytes = await Deno.readFile(out);
  let gzipped = 0;
  for await (const chunk of new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))) {
    gzipped += chunk.length;
  }
  return { bytes, gzipped };
}
