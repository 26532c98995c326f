/**
 * Optional validators for `memory`, `sessionData` and runs, in the Standard
 * Schema format (https://standardschema.dev; zod 4, valibot and arktype
 * implement it), applied on write and on read, their issues reported as a
 * `ValidationError` with the path.
 *
 * @module
 */
import { checkJson } from "./_json.ts";
import { ValidationError, type ValidationIssue } from "./errors.ts";

/** The part of the Standard Schema v1 interface this package uses. */
export interface StandardSchema<Output = unknown> {
  /** The Standard Schema properties. */
  readonly "~standard": {
    /** Always 1. */
    readonly version: 1;
    /** The library that made the schema. */
    readonly vendor: string;
    /** Checks `value`; returns its (possibly transformed) value or the issues. */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}

/** What a Standard Schema's `validate` returns. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string;
      readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
    }>;
  };

/** The `schemas` storage option: a validator per content kind. */
export interface ContentSchemas {
  /** Validates `memory` (when not `null`). */
  memory?: StandardSchema;
  /** Validates `sessionData` (when not `null`). */
  sessionData?: StandardSchema;
  /** Validates each run. */
  run?: StandardSchema;
}

/** Checks the `schemas` option: an object whose values are Standard Schemas. */
export function checkSchemas(value: unknown): ContentSchemas {
  if (value === undefined) return {};
  const fail = (path: string[], message: string): never => {
    throw new ValidationError([{ path: ["schemas", ...path], message }]);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail([], "expected an object");
  for (const [key, schema] of Object.entries(value)) {
    if (key !== "memory" && key !== "sessionData" && key !== "run") {
      fail([key], "unknown key (memory, sessionData, run)");
    }
    const standard = (schema as StandardSchema | null)?.["~standard"];
    if (standard?.version !== 1 || typeof standard.validate !== "function") fail([key], "expected a Standard Schema");
  }
  return value as ContentSchemas;
}

/**
 * Validates `value` at `path` with `schema` (nothing to do without one, or
 * for `null`); returns the schema's output or throws its issues.
 */
export async function applySchema(
  schema: StandardSchema | undefined,
  value: unknown,
  path: (string | number)[],
): Promise<unknown> {
  if (schema === undefined || value === null) return value;
  const result = await schema["~standard"].validate(value);
  if (result.issues === undefined) {
    const issues: ValidationIssue[] = [];
    if (result.value !== value) checkJson(result.value, path, issues); // a transforming schema's output is what is stored
    if (issues.length > 0) throw new ValidationError(issues);
    return result.value;
  }
  const issues: ValidationIssue[] = result.issues.slice(0, 10).map((issue) => ({
    path: [...path, ...(issue.path ?? []).map((p) => keyOf(typeof p === "object" ? p.key : p))],
    message: issue.message,
  }));
  throw new ValidationError(issues.length > 0 ? issues : [{ path, message: "rejected by the schema" }]);
}

function keyOf(key: PropertyKey): string | number {
  return typeof key === "number" ? key : String(key);
}
