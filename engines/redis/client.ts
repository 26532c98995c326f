/**
 * The script-client primitive the Redis engine sits on: a client only runs
 * a script by its SHA-1 and loads a script; {@linkcode runScript} keeps the
 * SHA-1 of each script and loads it when Redis answers `NOSCRIPT` (a new or
 * restarted server), so a script costs one round trip once loaded.
 *
 * @module
 */

/**
 * A reply as the engine reads it: bulk and status strings as text, integers
 * as numbers, nil as `null`, arrays nested. A client normalises its
 * transport's shapes (bytes, base64, objects) to this.
 */
export type RedisReply = null | string | number | RedisReply[];

/** The least a Redis client offers the engine (Upstash REST today; TCP later). */
export interface ScriptClient {
  /** `EVALSHA sha numkeys keys… args…`; rejects with an error whose message holds `NOSCRIPT` when the script is not loaded. */
  evalsha(sha: string, keys: string[], args: string[]): Promise<RedisReply>;
  /** `SCRIPT LOAD`; resolves with the script's SHA-1. Used after `NOSCRIPT` when the client has no `eval`. */
  scriptLoad?(script: string): Promise<string>;
  /**
   * `EVAL source numkeys keys… args…`, when the client has it: used instead of
   * `SCRIPT LOAD` then `EVALSHA` after `NOSCRIPT`. A cluster client routes it
   * by its keys, so it reaches (and loads the script on) the node that
   * answered `NOSCRIPT`, where a keyless `SCRIPT LOAD` could go to any node.
   */
  eval?(source: string, keys: string[], args: string[]): Promise<RedisReply>;
}

/**
 * A Lua script with its typed encoder and decoder: `encode` turns the
 * caller's input into the keys the script touches (declared in `KEYS`) and
 * its arguments; `decode` turns the reply into a typed result.
 */
export interface RedisScript<I, O> {
  /** Name, for error messages. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** Keys and arguments of one call. */
  encode(input: I): { keys: string[]; args: string[] };
  /** The typed result of a reply. */
  decode(reply: RedisReply): O;
}

const shas = new Map<string, Promise<string>>();

/** The hex SHA-1 of `source` (what `EVALSHA` names a script by), computed once per script. */
export function scriptSha(source: string): Promise<string> {
  let sha = shas.get(source);
  if (!sha) {
    sha = crypto.subtle.digest("SHA-1", new TextEncoder().encode(source))
      .then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""));
    shas.set(source, sha);
  }
  return sha;
}

/**
 * Runs `script` on `client` with `input`: `EVALSHA`, and on `NOSCRIPT` an
 * `EVAL`, or a `SCRIPT LOAD` then `EVALSHA` again; a script that was not
 * loaded did not run, so running it then is not a repeat.
 */
export async function runScript<I, O>(client: ScriptClient, script: RedisScript<I, O>, input: I): Promise<O> {
  const { keys, args } = script.encode(input);
  const sha = await scriptSha(script.source);
  let reply: RedisReply;
  try {
    reply = await client.evalsha(sha, keys, args);
  } catch (error) {
    if (!/NOSCRIPT/.test(String((error as Error)?.message))) throw error;
    if (client.eval) return script.decode(await client.eval(script.source, keys, args));
    if (!client.scriptLoad) throw error;
    const loaded = await client.scriptLoad(script.source);
    if (loaded !== sha) throw new Error(`SCRIPT LOAD of ${script.name} answered SHA-1 ${loaded}, expected ${sha}`);
    reply = await client.evalsha(sha, keys, args);
  }
  return script.decode(reply);
}
