/**
 * Progress on stderr: on a terminal a redrawn bar when the total is known,
 * else a count with its rate (a bar without a total would be a lie); a plain
 * line every 1 000 items or 2 seconds otherwise; nothing with `--quiet`.
 */
export class Progress {
  #label: string;
  #quiet: boolean;
  #tty: boolean;
  #color: boolean;
  #count = 0;
  #lastLine = 0;
  #lastCount = 0;
  #total: number | undefined;
  #started = Date.now();

  /** Starts reporting `label`; `total` when known. */
  constructor(label: string, options: { quiet: boolean; total?: number }) {
    this.#label = label;
    this.#quiet = options.quiet;
    this.#tty = Deno.stderr.isTerminal();
    this.#color = this.#tty && !Deno.env.get("NO_COLOR");
    this.#total = options.total;
    this.#lastLine = Date.now();
  }

  #write(text: string): void {
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  }

  /** Items counted so far. */
  get count(): number {
    return this.#count;
  }

  /** Counts `n` more items. */
  add(n = 1): void {
    this.#count += n;
    if (this.#quiet) return;
    const now = Date.now();
    if (this.#tty) {
      if (now - this.#lastLine < 100) return;
      this.#lastLine = now;
      const total = this.#total;
      if (total) {
        const width = 30;
        const filled = Math.min(width, Math.round((this.#count / total) * width));
        const bar = "█".repeat(filled) + "░".repeat(width - filled);
        const painted = this.#color ? `\x1b[36m${bar}\x1b[0m` : bar;
        this.#write(`\r${this.#label} ${painted} ${this.#count}/${total}`);
      } else {
        this.#write(`\r\x1b[2K${this.#label}: ${this.#count} (${this.#rate(now)}/s)`);
      }
    } else if (this.#count - this.#lastCount >= 1000 || now - this.#lastLine >= 2000) {
      this.#lastLine = now;
      this.#lastCount = this.#count;
      const rate = this.#total ? "" : ` (${this.#rate(now)}/s)`;
      this.#write(`${this.#label}: ${this.#count}${this.#total ? ` of ${this.#total}` : ""}${rate}\n`);
    }
  }

  /** Items per second since the start, rounded. */
  #rate(now: number): number {
    return Math.round(this.#count / Math.max((now - this.#started) / 1000, 0.001));
  }

  /** Prints the final count (for commands whose stdout carries data, so the summary goes here). */
  done(summary: string): void {
    if (this.#quiet) return;
    this.#write(`${this.#tty ? "\r\x1b[2K" : ""}${this.#label}: ${summary}\n`);
  }

  /** Clears the redrawn line (the command prints its summary on stdout). */
  finish(): void {
    if (!this.#quiet && this.#tty) this.#write("\r\x1b[2K");
  }
}
