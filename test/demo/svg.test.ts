// The demo chart: well-formed markup, escaped text, every vertex inside its panel, both rollouts drawn and visible,
// the 5xx rate and the p99 each analysis read with their gates.
import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../functions/http/html.ts";
import { chartLayout, DODGE_PX, formatMs, niceStep, renderTimelineSvg } from "../../scripts/demo/svg.ts";
import type { TimelinePoint } from "../../scripts/demo/timeline.ts";

const good: TimelinePoint[] = [
  { at: 0, weight: 0, phase: "Waiting", wrote: true },
  { at: 0.6, weight: 20, phase: "Progressing", wrote: true },
  { at: 2, weight: 20, phase: "Progressing", wrote: false },
  {
    at: 3.7,
    weight: 50,
    phase: "Progressing",
    wrote: true,
    verdict: "pass",
    analysedWeight: 20,
    errorRate: 0,
    p99Ms: 28,
  },
  {
    at: 7.1,
    weight: 100,
    phase: "Progressing",
    wrote: true,
    verdict: "pass",
    analysedWeight: 50,
    errorRate: 0.001,
    p99Ms: 25,
  },
  {
    at: 10.4,
    weight: 100,
    phase: "Promoted",
    wrote: true,
    verdict: "pass",
    analysedWeight: 100,
    errorRate: 0,
    p99Ms: 25,
  },
];

const bad: TimelinePoint[] = [
  { at: 0, weight: 0, phase: "Waiting", wrote: true },
  { at: 0.5, weight: 20, phase: "Progressing", wrote: true },
  {
    at: 3.9,
    weight: 20,
    phase: "Progressing",
    wrote: true,
    verdict: "fail",
    analysedWeight: 20,
    errorRate: 0.21,
    p99Ms: 2284,
  },
  {
    at: 7.0,
    weight: 0,
    phase: "RolledBack",
    wrote: true,
    verdict: "fail",
    analysedWeight: 20,
    errorRate: 0.19,
    p99Ms: 2295,
  },
];

const series = [
  { id: "good", label: "good: v2 healthy", points: good },
  { id: "bad", label: "bad: v2 failing 20%", points: bad },
];

interface Element {
  name: string;
  attributes: Record<string, string>;
}

/**
 * A strict little XML reader for what the renderer emits: every tag must close in order, attribute values must be
 * quoted and free of raw `<` and `&` that is not an entity, and text may hold no raw `<` or stray `&`.
 */
function parseXml(text: string): Element[] {
  const elements: Element[] = [];
  const stack: string[] = [];
  const entity = /&(?:amp|lt|gt|quot|#39);/g;
  let position = 0;
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/y;
  while (position < text.length) {
    const next = text.indexOf("<", position);
    const content = text.slice(position, next < 0 ? text.length : next);
    expect(content.replace(entity, ""), `stray & or > in text at ${position}`).not.toMatch(/[&>]/);
    if (next < 0) break;
    tag.lastIndex = next;
    const match = tag.exec(text);
    if (!match) throw new Error(`malformed tag at ${next}: ${text.slice(next, next + 60)}`);
    const [whole, closing, name = "", rawAttributes = "", selfClosing] = match;
    if (closing) {
      expect(stack.pop(), `closing </${name}> at ${next}`).toBe(name);
    } else {
      const attributes: Record<string, string> = {};
      for (const [, key = "", value = ""] of rawAttributes.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        expect(value.replace(entity, ""), `attribute ${key} of <${name}>`).not.toMatch(/[<&]/);
        attributes[key] = value;
      }
      elements.push({ name, attributes });
      if (!selfClosing) stack.push(name);
    }
    position = next + whole.length;
  }
  expect(stack).toEqual([]);
  return elements;
}

const points = (attribute: string | undefined): [number, number][] =>
  (attribute ?? "")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split(",").map(Number) as [number, number]);

function boxOf(elements: Element[], panel: string) {
  const rect = elements.find(
    (e) => e.name === "rect" && e.attributes.class === "plot" && e.attributes["data-panel"] === panel,
  );
  if (!rect) throw new Error(`no plot rect for ${panel}`);
  const [x, y, width, height] = ["x", "y", "width", "height"].map((key) => Number(rect.attributes[key]));
  return { x: x ?? 0, y: y ?? 0, width: width ?? 0, height: height ?? 0 };
}

/** The y of a panel's tick for `value` (0 for 0%, 100 for 100% in the weight panel). */
function tickY(elements: Element[], panel: string, value: number): number {
  const tick = elements.find(
    (e) =>
      e.attributes.class === "tick" &&
      e.attributes["data-panel"] === panel &&
      e.attributes["data-value"] === String(value),
  );
  if (!tick) throw new Error(`no tick ${value} in ${panel}`);
  return Number(tick.attributes.y);
}

const line = (elements: Element[], id: string, panel: string) =>
  elements.find(
    (e) => e.name === "polyline" && e.attributes["data-series"] === id && e.attributes["data-panel"] === panel,
  );

describe("renderTimelineSvg", () => {
  const svg = renderTimelineSvg(series, { title: "demo" });
  const elements = parseXml(svg);

  it("is one well-formed svg element with a title", () => {
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(elements[0]?.name).toBe("svg");
    expect(elements[0]?.attributes.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(elements.filter((e) => e.name === "svg")).toHaveLength(1);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it("draws both series in every panel, with a legend entry each", () => {
    for (const id of ["good", "bad"]) {
      expect(points(line(elements, id, "weight")?.attributes.points).length).toBeGreaterThan(1);
      expect(points(line(elements, id, "errors")?.attributes.points).length).toBe(id === "good" ? 3 : 2);
      expect(points(line(elements, id, "latency")?.attributes.points).length).toBe(id === "good" ? 3 : 2);
    }
    expect(svg).toContain(">good: v2 healthy</text>");
    expect(svg).toContain(">bad: v2 failing 20%</text>");
    expect(line(elements, "good", "weight")?.attributes.stroke).not.toBe(
      line(elements, "bad", "weight")?.attributes.stroke,
    );
  });

  it("keeps every vertex inside its panel and scales weights onto the box: 100% near the top, 0% near the bottom", () => {
    const weightBox = boxOf(elements, "weight");
    expect(weightBox).toEqual(chartLayout(900, 680).weight);
    for (const panel of ["weight", "errors", "latency"]) {
      const box = boxOf(elements, panel);
      for (const id of ["good", "bad"]) {
        for (const [x, y] of points(line(elements, id, panel)?.attributes.points)) {
          expect(x).toBeGreaterThanOrEqual(box.x);
          expect(x).toBeLessThanOrEqual(box.x + box.width);
          expect(y).toBeGreaterThanOrEqual(box.y);
          expect(y).toBeLessThanOrEqual(box.y + box.height);
        }
      }
    }
    const goodLine = points(line(elements, "good", "weight")?.attributes.points);
    const badLine = points(line(elements, "bad", "weight")?.attributes.points);
    const zero = tickY(elements, "weight", 0);
    const full = tickY(elements, "weight", 100);
    expect(zero).toBeGreaterThan(weightBox.y + weightBox.height - 12);
    expect(full).toBeLessThan(weightBox.y + 12);
    // Both start at 0% at t = 0, each half a dodge from the 0% line: good above it, bad below.
    expect(goodLine[0]).toEqual([weightBox.x, zero - DODGE_PX / 2]);
    expect(badLine[0]).toEqual([weightBox.x, zero + DODGE_PX / 2]);
    // The healthy one ends at 100%, the failing one back at 0%.
    expect(goodLine.at(-1)?.[1]).toBe(full - DODGE_PX / 2);
    expect(badLine.at(-1)?.[1]).toBe(zero + DODGE_PX / 2);
    // 50% is half way between, and later points lie further right.
    const half = (zero + full) / 2 - DODGE_PX / 2;
    expect(goodLine.some(([, y]) => Math.abs(y - half) <= 0.1)).toBe(true);
    const xs = goodLine.map(([x]) => x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    // The longest run spans the axis up to the next round tick, not beyond the box.
    expect(Math.max(...xs)).toBeGreaterThan(weightBox.x + weightBox.width / 2);
  });

  it("draws runs that agree side by side, and every marker over every line: the good one never hides", () => {
    // As in the demo: both canaries go to 10% at about 1 s and are first analysed at 10%, at about 9 s.
    const first = (verdict: "pass" | "fail", errorRate: number, p99Ms: number): TimelinePoint[] =>
      [
        { at: 0, weight: 0, phase: "Waiting", wrote: true },
        { at: 1, weight: 10, phase: "Progressing", wrote: true },
        {
          at: 9.1,
          weight: verdict === "pass" ? 30 : 10,
          phase: "Progressing",
          wrote: true,
          verdict,
          analysedWeight: 10,
        },
      ].map((point) => (point.verdict ? { ...point, errorRate, p99Ms } : point)) as TimelinePoint[];
    const markup = renderTimelineSvg([
      { id: "good", label: "good", points: first("pass", 0, 28) },
      { id: "bad", label: "bad", points: first("fail", 0.23, 2284) },
    ]);
    const parsed = parseXml(markup);
    /** The longest horizontal segment of a weight line: here the 10% from about 1 s to 9.1 s. */
    const longestFlat = (id: string) => {
      const vertices = points(line(parsed, id, "weight")?.attributes.points);
      const flats = vertices.slice(1).flatMap((end, i) => {
        const start = vertices[i] as [number, number];
        return start[1] === end[1] ? [{ y: end[1], from: start[0], to: end[0] }] : [];
      });
      return flats.sort((p, q) => q.to - q.from - (p.to - p.from))[0];
    };
    const good = longestFlat("good");
    const bad = longestFlat("bad");
    // They span the same time, further apart than a line is wide (2.5).
    expect(good?.from).toBe(bad?.from);
    expect(good?.to).toBe(bad?.to);
    expect(Math.abs((good?.y ?? 0) - (bad?.y ?? 0))).toBeGreaterThanOrEqual(2.5);
    // The two first analyses, at the same time and weight, are marked at different places.
    const weightMarkers = parsed.filter(
      (e) => e.attributes.class?.startsWith("marker") && e.attributes.cy !== undefined,
    );
    const goodMarker = weightMarkers.find((e) => e.attributes.class === "marker pass");
    expect(goodMarker).toBeDefined();
    const crosses = parsed.filter((e) => e.attributes.class === "marker fail");
    const crossCentre = (d = "") => {
      const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = (d.match(/-?[\d.]+/g) ?? []).map(Number);
      return [(x1 + x2) / 2, (y1 + y2) / 2];
    };
    const [, badY] = crossCentre(crosses[0]?.attributes.d);
    expect(Math.abs(Number(goodMarker?.attributes.cy) - (badY ?? 0))).toBeGreaterThanOrEqual(DODGE_PX);
    // No line is drawn after the first marker.
    expect(markup.lastIndexOf("<polyline")).toBeLessThan(markup.indexOf('class="marker'));
  });

  it("draws the p99 each analysis read in a panel of its own, with the gate it failed", () => {
    const gated = renderTimelineSvg(series, { limits: { errorRate: 0.01, p99Ms: 1000 } });
    const parsed = parseXml(gated);
    const box = boxOf(parsed, "latency");
    expect(box).toEqual(chartLayout(900, 680).latency);
    expect(box.y).toBeGreaterThan(boxOf(parsed, "errors").y + boxOf(parsed, "errors").height);
    const limit = parsed.find(
      (e) => e.name === "line" && e.attributes.class === "limit" && e.attributes["data-panel"] === "latency",
    );
    expect(limit).toBeDefined();
    const limitY = Number(limit?.attributes.y1);
    expect(gated).toMatch(/<text class="limit" data-panel="latency"[^>]*>max 1 s<\/text>/);
    expect(gated).toMatch(/<text class="limit" data-panel="errors"[^>]*>max 1%<\/text>/);
    // The failing run's p99 (2.3 s) is drawn above its gate, the healthy one's (25 ms) below it.
    for (const [, y] of points(line(parsed, "bad", "latency")?.attributes.points)) expect(y).toBeLessThan(limitY);
    for (const [, y] of points(line(parsed, "good", "latency")?.attributes.points)) expect(y).toBeGreaterThan(limitY);
    // The axis reaches past the worst read, in round steps.
    const top = Math.max(
      ...parsed
        .filter((e) => e.attributes.class === "tick" && e.attributes["data-panel"] === "latency")
        .map((e) => Number(e.attributes["data-value"])),
    );
    expect(top).toBeGreaterThanOrEqual(2295);
    // In seconds past a second, with the unit in the axis title so that the tick labels stay short.
    expect(gated).toContain(">p99 latency read (s)</text>");
    expect(gated).toMatch(/<text class="tick" data-panel="latency" data-value="1000"[^>]*>1<\/text>/);
    const fast = renderTimelineSvg([{ id: "good", label: "good", points: good }]);
    expect(fast).toContain(">p99 latency read (ms)</text>");
    expect(fast).toMatch(/<text class="tick" data-panel="latency" data-value="50"[^>]*>50<\/text>/);
    expect(gated).toContain("p99 2284 ms");
    expect([0, 250, 1000, 1500].map(formatMs)).toEqual(["0", "250 ms", "1 s", "1.5 s"]);
  });

  it("draws the weight as steps: it holds until a run changes it", () => {
    const goodLine = points(line(elements, "good", "weight")?.attributes.points);
    for (const [index, [x, y]] of goodLine.entries()) {
      const previous = goodLine[index - 1];
      // Every segment is horizontal or vertical.
      if (previous) expect(previous[0] === x || previous[1] === y).toBe(true);
    }
  });

  it("marks each analysis with its verdict, and a failure differently from a pass", () => {
    const markers = elements.filter((e) => (e.attributes.class ?? "").startsWith("marker"));
    // Each analysis appears in the three panels.
    expect(markers.filter((e) => e.attributes.class === "marker pass")).toHaveLength(9);
    expect(markers.filter((e) => e.attributes.class === "marker fail")).toHaveLength(6);
    expect(markers.find((e) => e.attributes.class === "marker fail")?.name).toBe("path");
    expect(svg).toContain("errors 21.00%");
  });

  it("escapes every text it is given: labels, titles, notes", () => {
    const hostile = renderTimelineSvg(
      [
        {
          id: 'x"><script>',
          label: `<script>alert("x")</script> & 'co'`,
          points: [{ ...good[3], note: "a < b & c > d" } as TimelinePoint],
        },
      ],
      { title: "Q&A <chart>" },
    );
    parseXml(hostile);
    expect(hostile).not.toContain("<script");
    expect(hostile).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;");
    expect(hostile).toContain("Q&amp;A &lt;chart&gt;");
    expect(hostile).toContain("a &lt; b &amp; c &gt; d");
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });

  it("renders empty, single-point and out-of-range input without NaN or escaping the box", () => {
    const odd = renderTimelineSvg([
      { id: "empty", label: "no points", points: [] },
      { id: "one", label: "one point", points: [{ at: 0, weight: 0, phase: "Waiting", wrote: true }] },
      {
        id: "wild",
        label: "out of range",
        points: [
          { at: 0, weight: -20, phase: "Progressing", wrote: false },
          { at: 5, weight: 140, phase: "Progressing", wrote: true, verdict: "inconclusive", errorRate: 3 },
        ],
      },
    ]);
    const parsed = parseXml(odd);
    expect(odd).not.toMatch(/NaN|undefined|Infinity/);
    const box = boxOf(parsed, "weight");
    for (const [, y] of points(line(parsed, "wild", "weight")?.attributes.points)) {
      expect(y).toBeGreaterThanOrEqual(box.y);
      expect(y).toBeLessThanOrEqual(box.y + box.height);
    }
    expect(parsed.filter((e) => e.attributes.class === "marker inconclusive")).toHaveLength(2);
  });
});

describe("niceStep", () => {
  it("picks 1, 2 or 5 times a power of ten, with at most the asked number of ticks", () => {
    for (const [range, ticks] of [
      [12, 10],
      [37, 10],
      [95, 10],
      [0.21, 4],
      [1, 10],
      [600, 8],
    ] as const) {
      const step = niceStep(range, ticks);
      expect(range / step).toBeLessThanOrEqual(ticks);
      const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      expect([1, 2, 5]).toContainEqual(Math.round(mantissa * 1e6) / 1e6);
    }
    expect(niceStep(0, 10)).toBe(1);
  });
});
