/**
 * Node.js and Bun for the tests that run the library's code outside Deno:
 * where they are, and `deno bundle` of an entry point into one JavaScript
 * file they run (lowered for Node 20 by esbuild when asked: `await using`).
 */
import * as esbuild from "esbuild";

/** A runtime found on this machine. */
export interface Runtime {
  /** "node" or "bun". */
  name: string;
  /** Its executable. */
  command: string;
}

async function runs(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

/** Where Bun is looked for: $BUN, else .tools/bun (`npm install --prefix .tools/bun bun@1`), else `bun` on PATH. */
function bunCommand(): string {
  const env = Deno.env.get("BUN");
  if (env) return env;
  const local = new URL("../../.tools/bun/node_modules/.bin/bun", import.meta.url).pathname;
  try {
    Deno.statSync(local);
    return local;
  } catch {
    return "bun";
  }
}

let found: Promise<{ runtimes: Runtime[]; missing: string[] }> | null = null;

/** Node.js ($NODE or `node`) and Bun, each when it runs here; `missing` names the others. */
export function nodeAndBun(): Promise<{ runtimes: Runtime[]; missing: string[] }> {
  found ??= (async () => {
    const runtimes: Runtime[] = [];
    const missing: string[] = [];
    for (const [name, command] of [["node", Deno.env.get("NODE") ?? "node"], ["bun", bunCommand()]]) {
      if (await runs(command!)) runtimes.push({ name: name!, command: command! });
      else missing.push(`${name} (${command})`);
    }
    return { runtimes, missing };
  })();
  return found;
}

const bundles = new Map<string, Promise<string>>();
/** Bundles are made one at a time (each stops esbuild's service when done). */
let queue: Promise<unknown> = Promise.resolve();

/**
 * `entry` bundled by `deno bundle --platform node` into one `.mjs` (in a
 * temporary directory removed at exit), then lowered by esbuild to what
 * Node.js 20 runs. npm packages are bundled: native ones (libSQL files) do not work from it.
 */
export function bundleForNode(entry: string): Promise<string> {
  let bundled = bundles.get(entry);
  if (!bundled) {
    bundled = queue.then(async () => {
      const dir = await Deno.makeTempDir({ prefix: "agentstate-node-bundle-" });
      globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
      const out = `${dir}/${entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, ".mjs")}`;
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--platform", "node", "-o", out, entry],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!result.success) throw new Error(`deno bundle ${entry}: ${new TextDecoder().decode(result.stderr)}`);
      const lowered = await esbuild.transform(await Deno.readTextFile(out), {
        format: "esm",
        platform: "node",
        target: "node20",
      });
      await esbuild.stop();
      await Deno.writeTextFile(out, lowered.code);
      return out;
    });
    queue = bundled.catch(() => {});
    bundles.set(entry, bundled);
  }
  return bundled;
}
