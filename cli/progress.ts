/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every
 * 1 000 items or 2 seconds otherwise, nothing with `--quiet`.
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
      const width = 30;
      const filled = total ? Math.min(width, Math.round((this.#count / total) * width)) : this.#count % (width + 1);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      const painted = this.#color ? `\x1b[36m${bar}\x1b[0m` : bar;
      this.#write(`\r${this.#label} ${painted} ${this.#count}${total ? `/${total}` : ""}`);
    } else if (this.#count - this.#lastCount >= 1000 || now - this.#lastLine >= 2000) {
      this.#lastLine = now;
      this.#lastCount = this.#count;
      this.#write(`${this.#label}: ${this.#count}${this.#total ? ` of ${this.#total}` : ""}\n`);
    }
  }

  /** Prints the final count. */
  done(summary: string): void {
    if (this.#quiet) return;
    this.#write(`${this.#tty ? "\r\x1b[2K" : ""}${this.#label}: ${summary}\n`);
  }
}
