/** Text for a terminal: control characters escaped, display widths, suggestions, readable OS errors. */

/** `text` with control characters (a file or id could move the cursor or clear the screen) escaped as `\xNN`. */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Zero-width code points: combining marks, variation selectors, zero-width joiner and spaces. */
const ZERO = /^[\p{Mn}\p{Me}\u200b-\u200f\ufe00-\ufe0f]$/u;
/** Code points two columns wide: East Asian wide and fullwidth forms, and emoji shown as pictures. */
const WIDE =
  /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{1f680}-\u{1f6ff}\u{20000}-\u{3fffd}]$/u;

/** Columns a code point takes on a terminal. */
function columns(c: string): number {
  return ZERO.test(c) ? 0 : WIDE.test(c) ? 2 : 1;
}

/** Columns `text` takes on a terminal (wide CJK and emoji count 2, combining marks 0). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const c of text) width += columns(c);
  return width;
}

/** `text` cut to at most `width` columns, ending in `…` when cut (never inside a character). */
export function clip(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const c of text) {
    if (used + columns(c) > width - 1) break;
    out += c;
    used += columns(c);
  }
  return out + "…";
}

/** `text` cut to at most `width` columns (ending in `…` when cut) and padded with spaces to `width`. */
export function fit(text: string, width: number): string {
  const clipped = clip(text, width);
  return clipped + " ".repeat(Math.max(0, width - displayWidth(clipped)));
}

/** Edit distance between `a` and `b` (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** `; did you mean X?` for the closest of `candidates` to `word` (within a third of its length), or `""`. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 1 : distance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best === undefined ? "" : `; did you mean ${best}?`;
}

/** An OS error's message without its code (Rust's `(os error N)`, Node's `ENOENT:`): `"<path>: no such file or directory"`. */
export function osMessage(message: string): string {
  // Deno: "No such file or directory (os error 2): open 'x'"; Node.js and Bun: "ENOENT: no such file or directory, open 'x'".
  const m = /^(.*?) \(os error \d+\)(?:: \w+ '(.*)')?$/s.exec(message) ??
    /^E[A-Z]+: (.*?)(?:, \w+ '(.*)')?$/s.exec(message);
  if (!m) return message;
  const what = m[1]!.charAt(0).toLowerCase() + m[1]!.slice(1);
  return m[2] === undefined ? what : `${m[2]}: ${what}`;
}

/** `YYYY-MM-DD hh:mm:ss` (UTC), or the raw number when it is beyond what `Date` represents. */
export function time(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString().replace("T", " ").slice(0, 19);
}
