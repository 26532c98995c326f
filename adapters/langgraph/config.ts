/**
 * Reading LangGraph's `RunnableConfig` and comparing metadata for the saver: the ids a config carries must be
 * strings, and a missing required one is a `TypeError` naming the call.
 *
 * @module
 */
import type { RunnableConfig } from "npm:@langchain/core@^1/runnables";

/** `config.configurable[name]` when it is a non-empty string, `undefined` when absent; a `TypeError` otherwise. */
export function optionalString(config: RunnableConfig, name: string): string | undefined {
  const value: unknown = config.configurable?.[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || (value === "" && name !== "checkpoint_ns")) {
    throw new TypeError(`configurable.${name}: expected a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `config.configurable[name]` as a non-empty string; a `TypeError` naming `method` when absent. */
export function requiredString(config: RunnableConfig, name: string, method: string): string {
  const value = optionalString(config, name);
  if (value === undefined) throw new TypeError(`${method}: config.configurable.${name} is required`);
  return value;
}

/** The metadata filter's comparison: primitives by `===`, objects by their JSON. */
export function sameValue(actual: unknown, wanted: unknown): boolean {
  if (typeof wanted !== "object" || wanted === null) return actual === wanted;
  return JSON.stringify(actual) === JSON.stringify(wanted);
}
