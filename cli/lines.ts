/** NDJSON input: lines split on bytes in linear time, each decoded as strict UTF-8. */

const NEWLINE = 0x0a;

/**
 * Non-empty lines of `stream` with their 1-based numbers. A line that is not
 * valid UTF-8 is an `Error` naming its number (never decoded to U+FFFD).
 * Work is linear in the input: a long line is kept as its chunks and joined once.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<[number, string]> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let pending: Uint8Array[] = [];
  let number = 0;
  const line = (last: Uint8Array): [number, string] | null => {
    number++;
    const bytes = pending.length === 0 ? last : join([...pending, last]);
    pending = [];
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new Error(`line ${number}: not valid UTF-8`);
    }
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return text.trim() === "" ? null : [number, text];
  };
  for await (const chunk of stream) {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      const found = line(chunk.subarray(start, end));
      if (found) yield found;
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length > 0) {
    const found = line(new Uint8Array());
    if (found) yield found;
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
