// Live terminal views: a frame of lines redrawn in place on a terminal, one line per change anywhere else.
//
// On a terminal (isTTY, TERM not dumb, NO_COLOR unset) each frame ends with a newline, and the next one moves the
// cursor up over it (`ESC[nA`), clears to the end of the screen (`ESC[J`) and writes itself; the cursor is hidden
// (`ESC[?25l`) while frames are drawn and shown again (`ESC[?25h`) by close() and clear(). Lines are cut to the
// terminal's width, since a wrapped line would take two rows and the next redraw would move up too few.
// Anywhere else (a pipe, a file, a CI log) only the lines that were not in the previous frame are written, so a
// watch logs what changed and nothing else, as `kubectl get -w` does.

export const ESC = {
  hideCursor: "\x1b[?25l",
  showCursor: "\x1b[?25h",
  up: (lines: number) => `\x1b[${lines}A`,
  clearDown: "\x1b[J",
} as const;

/** What a view writes to: process.stdout, process.stderr, or a fake in tests. */
export interface LiveStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Whether frames are redrawn in place: a terminal that understands cursor movement, and no NO_COLOR asking for plain text. */
export function isLiveTerminal(stream: LiveStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (stream.isTTY !== true) return false;
  if (env.TERM === "dumb") return false;
  // https://no-color.org: set to anything but the empty string means plain output.
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return true;
}

/** The line cut to fit `columns` with an ellipsis (one column is kept free, as some terminals wrap at the last). */
export function fitLine(line: string, columns: number | undefined): string {
  if (!columns || columns < 2) return line;
  const chars = Array.from(line);
  return chars.length >= columns ? `${chars.slice(0, columns - 2).join("")}…` : line;
}

/** A `[███████░░░] 70%` bar: the share `value` of `total`, in `width` cells. */
export function weightBar(value: number, total = 100, width = 10): string {
  const share = total > 0 ? Math.min(Math.max(value / total, 0), 1) : 0;
  const full = Math.round(share * width);
  return `[${"█".repeat(full)}${"░".repeat(width - full)}] ${Math.round(share * 100)}%`;
}

/** Seconds as `45s`, `3m05s`, `2h10m`. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class LiveView {
  /** True when frames are redrawn in place; false in line mode. */
  readonly live: boolean;
  /** Rows of the frame on screen (live), or the lines of the last frame (line mode). */
  private shown: string[] = [];
  private drawnRows = 0;
  private cursorHidden = false;
  private closed = false;

  constructor(
    private readonly stream: LiveStream,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.live = isLiveTerminal(stream, env);
  }

  /** Shows the frame: redrawn over the previous one on a terminal, else only its new lines. */
  render(frame: string | readonly string[]): void {
    if (this.closed) return;
    const lines = typeof frame === "string" ? frame.split("\n") : [...frame];
    if (!this.live) {
      const before = new Set(this.shown);
      const fresh = lines.filter((line) => !before.has(line));
      if (fresh.length > 0) this.stream.write(`${fresh.join("\n")}\n`);
      this.shown = lines;
      return;
    }
    const fitted = lines.map((line) => fitLine(line, this.stream.columns));
    if (this.drawnRows > 0 && fitted.join("\n") === this.shown.join("\n")) return;
    let out = "";
    if (!this.cursorHidden) {
      out += ESC.hideCursor;
      this.cursorHidden = true;
    }
    if (this.drawnRows > 0) out += `${ESC.up(this.drawnRows)}${ESC.clearDown}`;
    out += fitted.length > 0 ? `${fitted.join("\n")}\n` : "";
    this.stream.write(out);
    this.shown = fitted;
    this.drawnRows = fitted.length;
  }

  /** Leaves the last frame on screen and shows the cursor again. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.cursorHidden) this.stream.write(ESC.showCursor);
    this.cursorHidden = false;
  }

  /** Erases the frame from a terminal (a progress line before the result) and closes the view. */
  clear(): void {
    if (this.live && this.drawnRows > 0 && !this.closed) this.stream.write(`${ESC.up(this.drawnRows)}${ESC.clearDown}`);
    this.drawnRows = 0;
    this.close();
  }
}

/** What exitOnInterrupt needs of `process`; a fake in tests. */
export interface Interruptible {
  once(event: "SIGINT", listener: () => void): unknown;
  off(event: "SIGINT", listener: () => void): unknown;
  exit(code: number): never;
}

/**
 * Closes the views on Ctrl-C and exits 130, as a shell reports a command ended by SIGINT (and as `greenlight
 * start` does): the cursor is shown again and the last frame stays. Returns the function that removes the handler.
 */
export function exitOnInterrupt(views: readonly LiveView[], proc: Interruptible = process): () => void {
  const onInterrupt = () => {
    for (const view of views) view.close();
    proc.exit(130);
  };
  proc.once("SIGINT", onInterrupt);
  return () => {
    proc.off("SIGINT", onInterrupt);
  };
}
