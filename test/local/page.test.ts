// The / page as a new user reads it: who gets each flag, and a header over every column of every table.
import { describe, expect, it } from "vitest";
import { type FlagRow, type LocalState, percentageText, renderPage } from "../../scripts/local/page.ts";
import { drawnRows, runPageScript } from "./page-script.ts";

const flag = (key: string, state: string, percentage: number): FlagRow => ({
  key,
  state,
  percentage,
  segments: [],
  revision: 1,
  updatedAt: "2026-11-26T09:00:00.000Z",
  updatedBy: "seed",
});

const FLAGS = [
  flag("checkout_off", "disabled", 100),
  flag("checkout_kept_split", "disabled", 30),
  flag("everyone", "enabled", 100),
  flag("everyone_despite_split", "enabled", 10),
  flag("some", "partial", 25),
];

const state: LocalState = {
  generatedAt: "2026-11-26T10:00:00.000Z",
  endpoints: [
    {
      name: "Admission webhooks",
      base: "https://127.0.0.1:8443",
      endpoints: [
        { method: "POST", path: "/mutate", url: "https://127.0.0.1:8443/mutate", note: "mutate Deployments" },
        { method: "GET", path: "/healthz", url: "https://127.0.0.1:8443/healthz", note: "liveness" },
      ],
    },
    {
      name: "Flags",
      base: "http://127.0.0.1:8081",
      endpoints: [{ method: "GET", path: "/admin/flags", url: "http://127.0.0.1:8081/admin/flags", note: "list" }],
    },
  ],
  flags: { where: "files in .greenlight", version: 3, items: FLAGS },
  stepper: {
    status: "active",
    intervalSeconds: 60,
    dryRun: false,
    server: "https://k8s:6443",
    context: "dev",
    passes: 1,
    lastPass: {
      startedAt: "2026-11-26T09:59:00.000Z",
      finishedAt: "2026-11-26T09:59:01.000Z",
      deferred: 0,
      canaries: [
        { namespace: "shop", deployment: "web-v2", phase: "Progressing", outcome: "written", problem: undefined },
      ],
      blueGreen: [],
      rolling: [],
    },
  },
  tls: { caCertPath: "/tmp/ca.crt", fingerprint: "AA:BB", bundlePath: "/tmp/ca.bundle" },
  demo: { available: false },
};

/** The cells of each row of the tbody with this id, as the server rendered them. */
function serverRows(html: string, id: string): string[][] {
  const body = new RegExp(`<tbody id="${id}">([\\s\\S]*?)</tbody>`).exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row = ""]) =>
    [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map(([, cell = ""]) => cell),
  );
}

/** Runs the page's script against /api/state answering `fresh`; returns the flag rows it drew. */
async function scriptFlagRows(fresh: LocalState): Promise<string[][]> {
  return drawnRows(await runPageScript(renderPage(state), fresh), "flag-rows");
}

describe("the / page's flags", () => {
  const expected = [
    ["checkout_off", "disabled", "0%"],
    ["checkout_kept_split", "disabled", "0%"],
    ["everyone", "enabled", "100%"],
    ["everyone_despite_split", "enabled", "100%"],
    ["some", "partial", "25%"],
  ];

  it("shows who gets each flag: nobody when disabled, everyone when enabled, the percentage when partial", () => {
    const rows = serverRows(renderPage(state), "flag-rows").map((row) => row.slice(0, 3));
    expect(rows).toEqual(expected);
    expect(FLAGS.map(percentageText)).toEqual(expected.map((row) => row[2]));
  });

  it("shows the same when its script refreshes the table", async () => {
    const rows = (await scriptFlagRows({ ...state, generatedAt: "2026-11-26T10:00:05.000Z" })).map((row) =>
      row.slice(0, 3),
    );
    expect(rows).toEqual(expected);
  });
});

describe("the / page's tables", () => {
  it("name every column of every table, the endpoint tables included", () => {
    const html = renderPage(state);
    const tables = [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map(([, table = ""]) => table);
    // Canaries, blue/green, rolling updates, flags, and one per endpoint group.
    expect(tables).toHaveLength(4 + state.endpoints.length);
    for (const table of tables) {
      const headers = [...table.matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map(([, text = ""]) => text.trim());
      expect(headers.length).toBeGreaterThan(0);
      for (const header of headers) expect(header, table.slice(0, 120)).not.toBe("");
      const body = /<tbody[^>]*>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? "";
      for (const [, row = ""] of body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)) {
        const spans = [...row.matchAll(/<td(?: colspan="(\d+)")?[^>]*>/g)].map(([, span]) => Number(span ?? 1));
        expect(
          spans.reduce((a, b) => a + b, 0),
          row,
        ).toBe(headers.length);
      }
    }
    expect(html).toContain("<th>method</th><th>URL</th><th>what it does</th>");
  });
});
