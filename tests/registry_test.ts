import assert from "node:assert/strict";
import { BACKENDS, findBackend, schemeOf } from "../backend.ts";
import { openStorage, STORAGE_URL_FORMS, ValidationError } from "../mod.ts";

Deno.test("registry: every URL form and scheme finds its own entry, and no scheme is claimed twice", () => {
  const schemes = BACKENDS.flatMap((b) => b.schemes);
  assert.equal(new Set(schemes).size, schemes.length);
  for (const backend of BACKENDS) {
    for (const form of backend.urlForms) {
      const url = form.replace("(s)", "s").replace(/<[^>]*>/, "x");
      assert.equal(findBackend(url)?.name, backend.name, url);
    }
  }
  assert.deepEqual(STORAGE_URL_FORMS, BACKENDS.flatMap((b) => b.urlForms));
  assert.equal(schemeOf("sessions.db"), undefined);
});

Deno.test("openStorage: an unknown URL lists every registered form; a backend needing a token says which", async () => {
  await assert.rejects(
    openStorage("mysql://x"),
    (e) => e instanceof ValidationError && BACKENDS.every((b) => b.urlForms.every((f) => e.message.includes(f))),
  );
  await assert.rejects(
    openStorage("upstash+https://127.0.0.1:1"),
    (e) => e instanceof ValidationError && /upstash URLs need a token.*UPSTASH_REDIS_REST_TOKEN/.test(e.message),
  );
});

/** Bundles a script importing `module` and opening memory:, with code splitting; the code loaded up front and all. */
async function bundleOpeningMemory(module: string): Promise<{ eager: string; all: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const url = new URL(module, import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { openStorage } from ${JSON.stringify(url)};\nawait openStorage("memory:");\n`,
    );
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", "--code-splitting", "--outdir", `${dir}/out`, `${dir}/main.ts`],
      cwd: new URL("..", import.meta.url).pathname,
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    // The modules loaded before any backend is chosen: main.js and the chunks it imports statically.
    const loaded = new Map<string, string>();
    const visit = async (name: string) => {
      if (loaded.has(name)) return;
      const text = await Deno.readTextFile(`${dir}/out/${name}`);
      loaded.set(name, text);
      for (const m of text.matchAll(/\bimport\s*(?:[\w{}\s,$*]*from\s*)?"\.\/([^"]+)"/g)) await visit(m[1]!);
    };
    await visit("main.js");
    const all = await Array.fromAsync(Deno.readDir(`${dir}/out`), (e) => Deno.readTextFile(`${dir}/out/${e.name}`));
    return { eager: [...loaded.values()].join("\n"), all: all.join("\n") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("openStorage('memory:') from mod.ts loads no libSQL or Redis client code", async () => {
  const { eager, all } = await bundleOpeningMemory("../mod.ts");
  // The clients are in the bundle (behind dynamic imports), so the check below could fail.
  assert.match(all, /hrana/i);
  assert.match(all, /UpstashError/);
  assert.doesNotMatch(eager, /hrana|UpstashError/i);
  assert.match(eager, /import\("\.\/libsql-/);
});

Deno.test("openStorage alone (backends/open.ts) loads no backend until a URL chooses one", async () => {
  const { eager, all } = await bundleOpeningMemory("../backends/open.ts");
  const classes = /(MemoryStorage|LibsqlStorage|JsonStorage|UpstashRedisStorage|IndexedDbStorage) = class\b/g;
  assert.equal(new Set([...all.matchAll(classes)].map((m) => m[1])).size, 5);
  assert.doesNotMatch(eager, classes);
});
