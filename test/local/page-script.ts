// Runs the status page's inline script (scripts/local/page.ts) on a small stand-in for the DOM: enough for its
// createElement / textContent / getElementById calls. Shared by page.test.ts and parts.test.ts.
import vm from "node:vm";
import type { LocalState } from "../../scripts/local/page.ts";

export class FakeNode {
  children: FakeNode[] = [];
  textContent = "";
  hidden = false;
  colSpan = 1;
  className = "";
  attributes = new Map<string, string>();
  classes = new Set<string>();
  classList = {
    add: (name: string) => this.classes.add(name),
    remove: (name: string) => this.classes.delete(name),
  };
  constructor(readonly tag: string) {}
  get firstChild(): FakeNode | undefined {
    return this.children[0];
  }
  appendChild(child: FakeNode): FakeNode {
    this.children.push(child);
    return child;
  }
  removeChild(child: FakeNode): FakeNode {
    this.children = this.children.filter((c) => c !== child);
    return child;
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, value);
  }
}

export interface PageScriptRun {
  /** The elements the script looked up (or was given), by id. */
  elements: Map<string, FakeNode>;
  body: FakeNode;
  /** Whether the script set up its refresh (setInterval). */
  polled: boolean;
}

/**
 * Runs the inline script of `html`, then one refresh with /api/state answering `fresh`. With `ids`, only those
 * elements exist (getElementById answers null for any other); without, every id looked up gets an element.
 */
export async function runPageScript(html: string, fresh: LocalState, ids?: readonly string[]): Promise<PageScriptRun> {
  const elements = new Map((ids ?? []).map((id) => [id, new FakeNode(id)]));
  const body = new FakeNode("body");
  let poll: (() => void) | undefined;
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
  vm.runInNewContext(script, {
    document: {
      body,
      createElement: (tag: string) => new FakeNode(tag),
      getElementById: (id: string) => {
        if (ids === undefined && !elements.has(id)) elements.set(id, new FakeNode(id));
        return elements.get(id) ?? null;
      },
    },
    fetch: async () => ({ ok: true, json: async () => JSON.parse(JSON.stringify(fresh)) }),
    setInterval: (callback: () => void) => {
      poll = callback;
    },
    Promise,
  });
  poll?.();
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { elements, body, polled: poll !== undefined };
}

/** The cells' text of each row the script drew into the tbody with this id. */
export const drawnRows = (run: PageScriptRun, id: string): string[][] =>
  run.elements.get(id)?.children.map((tr) => tr.children.map((td) => td.textContent)) ?? [];
