/**
 * A Node.js built-in module where the runtime has one (Node.js, Deno, Bun), found through `process.getBuiltinModule`:
 * no static `node:` import, so browsers and workers still load the modules using it.
 *
 * @module
 */

/**
 * The built-in module `id`, named without the `node:` prefix (`"crypto"`: the browser bundle must hold no `node:`
 * specifier), or `undefined` where the runtime has none or refuses it.
 */
export function nodeBuiltin<T>(id: string): Partial<T> | undefined {
  try {
    const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return process?.getBuiltinModule?.(id) as Partial<T> | undefined;
  } catch {
    return undefined;
  }
}
