// The browser bundle of ./indexeddb stays small: a storage layer in a web page or a Worker must not weigh 100 KB.
import assert from "node:assert/strict";
import { bundleIndexedDb } from "./support/bundle.ts";
import { tempDir } from "./support/temp.ts";

/** The budget for `deno bundle --platform browser --minify` of IndexedDbStorage, gzipped. */
const MAX_GZIPPED = 35 * 1024;

Deno.test(`browser bundle of ./indexeddb: at most ${MAX_GZIPPED / 1024} KB gzipped, no schema library inside`, async () => {
  const dir = await tempDir("bundle");
  try {
    const { bytes, gzipped } = await bundleIndexedDb(dir.path);
    console.log(`IndexedDbStorage bundle: ${bytes.length} bytes minified, ${gzipped} bytes gzipped`);
    assert.ok(gzipped <= MAX_GZIPPED, `${gzipped} bytes gzipped is over the ${MAX_GZIPPED}-byte budget`);
    assert.doesNotMatch(new TextDecoder().decode(bytes), /zod|ZodError/, "no zod in the core");
  } finally {
    await dir.remove();
  }
});
