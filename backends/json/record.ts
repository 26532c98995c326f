/**
 * The session file of the JSON backend: the session's fields in the order
 * of its mode, plus `runCount` (how many lines of its run log count),
 * pretty-printed so that people can read and diff it.
 *
 * @module
 */
import type { KvRecord } from "../../engines/kv.ts";
import { CorruptRecordError } from "../../session/errors.ts";
import { MODE_FIELDS } from "../../session/modes.ts";
import { parseStoredSession } from "../../session/parse.ts";
import { parseStoredObject } from "../../session/stored.ts";
import type { SessionMode } from "../../session/types.ts";
import { encodeFileName } from "./names.ts";

/**
 * Parses the text of the session file `path`, named `name`; a file holding
 * another id than its name encodes (copied by hand) is corrupt.
 */
export async function parseSessionFile<M extends SessionMode>(
  mode: M,
  text: string,
  path: string,
  name: string,
): Promise<KvRecord<M>> {
  const { runCount = 0, ...fields } = parseStoredObject(text, path, "a session file");
  if (typeof runCount !== "number" || !Number.isSafeInteger(runCount) || runCount < 0) {
    throw new CorruptRecordError(path, "runCount is not a count");
  }
  const session = parseStoredSession(mode, fields, path);
  const expected = await encodeFileName(session.sessionId);
  if (expected !== name) {
    throw new CorruptRecordError(
      path,
      `holds session ${JSON.stringify(session.sessionId)}, whose file is ${expected}.json`,
    );
  }
  return { session, runCount };
}

/** The text of a session file. */
export function renderSessionFile<M extends SessionMode>(mode: M, record: KvRecord<M>): string {
  const ordered: Record<string, unknown> = {};
  for (const key of MODE_FIELDS[mode].all) ordered[key] = (record.session as unknown as Record<string, unknown>)[key];
  ordered.runCount = record.runCount;
  try {
    return JSON.stringify(ordered, null, 2) + "\n";
  } catch (error) {
    // Indenting recurses and overflows near 10 000 levels of nesting; such a file is written compact.
    if (error instanceof RangeError) return JSON.stringify(ordered) + "\n";
    throw error;
  }
}
