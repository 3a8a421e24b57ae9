// The live renderer with a fake stream: the exact escape sequences on a terminal, and the line mode elsewhere.
import { describe, expect, it } from "vitest";
import {
  exitOnInterrupt,
  fitLine,
  isLiveTerminal,
  LiveView,
  shortDuration,
  weightBar,
} from "../../scripts/cli/live.ts";

function fakeStream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, ...(columns ? { columns } : {}), write: (text: string) => writes.push(text) } };
}

const TERMINAL = { TERM: "xterm-256color" };

describe("LiveView on a terminal", () => {
  it("hides the cursor, redraws over the previous frame, skips an unchanged frame and shows the cursor at close", () => {
    const { writes, stream } = fakeStream(true, 80);
    const view = new LiveView(stream, TERMINAL);
    expect(view.live).toBe(true);
    view.render(["HEADER", "a 1"]);
    view.render(["HEADER", "a 1"]);
    view.render("HEADER\na 2\nb 1");
    view.render(["HEADER"]);
    view.close();
    view.close();
    view.render(["after close"]);
    expect(writes).toEqual([
      "\x1b[?25lHEADER\na 1\n",
      "\x1b[2A\x1b[JHEADER\na 2\nb 1\n",
      "\x1b[3A\x1b[JHEADER\n",
      "\x1b[?25h",
    ]);
  });

  it("cuts every line to the terminal's width, so no line wraps", () => {
    const { writes, stream } = fakeStream(true, 10);
    const view = new LiveView(stream, TERMINAL);
    view.render(["short", "[██████████] 100% and more"]);
    expect(writes).toEqual(["\x1b[?25lshort\n[███████…\n"]);
    expect(fitLine("x".repeat(9), 10)).toBe("x".repeat(9));
    expect(fitLine("x".repeat(10), 10)).toBe(`${"x".repeat(8)}…`);
    expect(fitLine("x".repeat(10), undefined)).toBe("x".repeat(10));
  });

  it("clear() erases the frame (a progress line before the result) and shows the cursor", () => {
    const { writes, stream } = fakeStream(true, 80);
    const view = new LiveView(stream, TERMINAL);
    view.render("stepping: 1 done");
    view.render("stepping: 2 done");
    view.clear();
    view.clear();
    expect(writes).toEqual([
      "\x1b[?25lstepping: 1 done\n",
      "\x1b[1A\x1b[Jstepping: 2 done\n",
      "\x1b[1A\x1b[J",
      "\x1b[?25h",
    ]);
  });

  it("writes nothing at close when it drew nothing", () => {
    const { writes, stream } = fakeStream(true, 80);
    const view = new LiveView(stream, TERMINAL);
    view.clear();
    expect(writes).toEqual([]);
  });
});

describe("LiveView off a terminal", () => {
  it("writes only the lines that were not in the previous frame, without escape sequences", () => {
    const { writes, stream } = fakeStream(false);
    const view = new LiveView(stream, TERMINAL);
    expect(view.live).toBe(false);
    view.render(["a Waiting 100/0", "b Progressing 90/10"]);
    view.render(["a Waiting 100/0", "b Progressing 90/10"]);
    view.render(["a Waiting 100/0", "b Progressing 50/50"]);
    view.close();
    view.clear();
    expect(writes).toEqual(["a Waiting 100/0\nb Progressing 90/10\n", "b Progressing 50/50\n"]);
  });

  it("falls back to lines on TERM=dumb and with NO_COLOR, even on a terminal", () => {
    expect(isLiveTerminal({ isTTY: true, write: () => true }, { TERM: "dumb" })).toBe(false);
    expect(isLiveTerminal({ isTTY: true, write: () => true }, { NO_COLOR: "1" })).toBe(false);
    expect(isLiveTerminal({ isTTY: true, write: () => true }, { NO_COLOR: "" })).toBe(true);
    expect(isLiveTerminal({ write: () => true }, {})).toBe(false);
    const { writes, stream } = fakeStream(true, 80);
    const view = new LiveView(stream, { TERM: "dumb" });
    view.render(["one"]);
    view.render(["two"]);
    view.close();
    expect(writes).toEqual(["one\n", "two\n"]);
  });
});

describe("exitOnInterrupt", () => {
  it("shows the cursor again and exits 130 on SIGINT; the returned function removes the handler", () => {
    const { writes, stream } = fakeStream(true, 80);
    const view = new LiveView(stream, TERMINAL);
    view.render("frame");
    let handler: (() => void) | undefined;
    const exits: number[] = [];
    const proc = {
      once: (_event: "SIGINT", listener: () => void) => {
        handler = listener;
      },
      off: (_event: "SIGINT", listener: () => void) => {
        if (handler === listener) handler = undefined;
      },
      exit: (code: number): never => {
        exits.push(code);
        return undefined as never;
      },
    };
    const remove = exitOnInterrupt([view], proc);
    handler?.();
    expect(exits).toEqual([130]);
    expect(writes.at(-1)).toBe("\x1b[?25h");
    remove();
    expect(handler).toBeUndefined();
  });
});

describe("helpers", () => {
  it("draws a weight bar and short durations", () => {
    expect(weightBar(70)).toBe("[███████░░░] 70%");
    expect(weightBar(0)).toBe("[░░░░░░░░░░] 0%");
    expect(weightBar(10, 20)).toBe("[█████░░░░░] 50%");
    expect(weightBar(5, 0)).toBe("[░░░░░░░░░░] 0%");
    expect(shortDuration(42.4)).toBe("42s");
    expect(shortDuration(185)).toBe("3m05s");
    expect(shortDuration(7800)).toBe("2h10m");
    expect(shortDuration(-3)).toBe("0s");
  });
});
