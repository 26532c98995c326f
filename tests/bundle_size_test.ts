// The browser bundle of ./indexeddb stays small: a storage layer in a web page or a Worker must not weigh 100 KB.
import assert from "node:assert/strict";
import { tempDir } from "./support/temp.ts";

/** The budget for `deno bundle --platform browser --minify` of IndexedDbStorage, gzipped. */
const MAX_GZIPPED = 35 * 1024;

const root = new URL("../", import.meta.url).pathname;

async function gzippedSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  let size = 0;
  for await (const chunk of new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))) {
    size += chunk.length;
  }
  return size;
}

Deno.test(`browser bundle of ./indexeddb: at most ${MAX_GZIPPED / 1024} KB gzipped, no schema library inside`, async () => {
  const dir = await tempDir("bundle");
  try {
    const entry = `${dir.path}/entry.ts`;
    await Deno.writeTextFile(entry, `export { IndexedDbStorage } from "${root}backends/indexeddb.ts";\n`);
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--platform",
        "browser",
        "--minify",
        "--config",
        `${root}deno.json`,
        "-o",
        `${dir.path}/out.js`,
        entry,
      ],
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const bytes = await Deno.readFile(`${dir.path}/out.js`);
    const gzipped = await gzippedSize(bytes);
    console.log(`IndexedDbStorage bundle: ${bytes.length} bytes minified, ${gzipped} bytes gzipped`);
    assert.ok(gzipped <= MAX_GZIPPED, `${gzipped} bytes gzipped is over the ${MAX_GZIPPED}-byte budget`);
    assert.doesNotMatch(new TextDecoder().decode(bytes), /zod|ZodError/, "no zod in the core");
  } finally {
    await dir.remove();
  }
});
