/**
 * A local stand-in for the JSR registry (jsr.io is not reachable from the
 * tests): `deno publish` uploads to it and `deno install jsr:…` downloads from
 * it, when both run with `JSR_URL` set to {@linkcode JsrRegistry.url}.
 *
 * It serves what Deno asks of JSR, from Deno's own publish and resolver code:
 * - publishing (under `/api/`): `GET scopes/<s>/packages/<p>` (200: the package
 *   exists), `GET …/versions/<v>` (404 until published), `POST …/versions/<v>`
 *   with the gzipped tarball `deno publish` built (answers a finished task);
 * - downloading: `/@<s>/<p>/meta.json`, `/@<s>/<p>/<v>_meta.json` (manifest
 *   with sizes and SHA-256 checksums, and the exports of the config that was
 *   published) and `/@<s>/<p>/<v>/<path>` (the files as uploaded).
 *
 * So what is installed is byte for byte what `deno publish` would send to JSR.
 */

/** One published version: its files by absolute path (`/cli/main.ts`) and its exports. */
export interface Published {
  files: Map<string, Uint8Array>;
  exports: Record<string, string>;
}

/** A running registry. */
export interface JsrRegistry {
  /** Base URL to pass as `JSR_URL` (ends with `/`). */
  url: string;
  /** Versions published so far, by `@scope/name@version`. */
  published: Map<string, Published>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Files of a tar archive (GNU long names included), by path without the leading `.`. */
function untar(tar: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (from: number, to: number) => new TextDecoder().decode(tar.subarray(from, to)).replace(/\0.*$/s, "");
  let longName: string | null = null;
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, at + 100);
    if (name === "") break;
    const size = parseInt(text(at + 124, at + 136).trim(), 8);
    const type = String.fromCharCode(tar[at + 156]!);
    const data = tar.slice(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = new TextDecoder().decode(data).replace(/\0.*$/s, "");
      continue;
    }
    if (type === "0" || type === "\0") files.set((longName ?? name).replace(/^\.?\/?/, "/"), data);
    longName = null;
  }
  return files;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return `sha256-${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Starts the registry on a free port of 127.0.0.1. */
export function startJsrRegistry(): Promise<JsrRegistry> {
  const published = new Map<string, Published>();
  const json = (body: unknown, status = 200) => Response.json(body, { status });
  const notFound = () => json({ code: "notFound", message: "not found" }, 404);

  async function handle(request: Request): Promise<Response> {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const api = /^\/api\/scopes\/([^/]+)\/packages\/([^/]+)(?:\/versions\/([^/]+))?$/.exec(path);
    if (api) {
      const [, scope, name, version] = api;
      if (version === undefined) return json({ scope, name });
      const key = `@${scope}/${name}@${version}`;
      if (request.method === "GET") return published.has(key) ? json({ version }) : notFound();
      const body = request.body!.pipeThrough(new DecompressionStream("gzip"));
      const files = untar(new Uint8Array(await new Response(body).arrayBuffer()));
      const config = new URL(request.url).searchParams.get("config") ?? "/deno.json";
      const configText = files.get(config);
      if (!configText) return json({ code: "missingConfig", message: `no ${config} in the tarball` }, 400);
      published.set(key, { files, exports: JSON.parse(new TextDecoder().decode(configText)).exports });
      return json({ id: crypto.randomUUID(), status: "success", error: null });
    }
    const meta = /^\/@([^/]+)\/([^/]+)\/meta\.json$/.exec(path);
    if (meta) {
      const prefix = `@${meta[1]}/${meta[2]}@`;
      const versions = [...published.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
      if (versions.length === 0) return notFound();
      return json({
        scope: meta[1],
        name: meta[2],
        latest: versions.at(-1),
        versions: Object.fromEntries(versions.map((v) => [v, {}])),
      });
    }
    const file = /^\/@([^/]+)\/([^/]+)\/([^/]+?)(_meta\.json|\/.*)$/.exec(path);
    const version = file && published.get(`@${file[1]}/${file[2]}@${file[3]}`);
    if (!version) return notFound();
    if (file[4] === "_meta.json") {
      const manifest: Record<string, { size: number; checksum: string }> = {};
      for (const [name, bytes] of version.files) manifest[name] = { size: bytes.length, checksum: await sha256(bytes) };
      return json({ manifest, exports: version.exports });
    }
    const bytes = version.files.get(file[4]!);
    return bytes ? new Response(bytes as Uint8Array<ArrayBuffer>) : notFound();
  }

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => resolve({ url: `http://127.0.0.1:${port}/`, published, close: () => server.shutdown() }),
    }, handle);
  });
}
