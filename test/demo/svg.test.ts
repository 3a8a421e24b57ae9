// The demo chart: well-formed markup, escaped text, every vertex inside its panel, both rollouts drawn.
import { describe, expect, it } from "vitest";
import { chartLayout, escapeXml, niceStep, renderTimelineSvg } from "../../scripts/demo/svg.ts";
import type { TimelinePoint } from "../../scripts/demo/timeline.ts";

const good: TimelinePoint[] = [
  { at: 0, weight: 0, phase: "Waiting", wrote: true },
  { at: 0.6, weight: 20, phase: "Progressing", wrote: true },
  { at: 2, weight: 20, phase: "Progressing", wrote: false },
  { at: 3.7, weight: 50, phase: "Progressing", wrote: true, verdict: "pass", analysedWeight: 20, errorRate: 0 },
  { at: 7.1, weight: 100, phase: "Progressing", wrote: true, verdict: "pass", analysedWeight: 50, errorRate: 0.001 },
  { at: 10.4, weight: 100, phase: "Promoted", wrote: true, verdict: "pass", analysedWeight: 100, errorRate: 0 },
];

const bad: TimelinePoint[] = [
  { at: 0, weight: 0, phase: "Waiting", wrote: true },
  { at: 0.5, weight: 20, phase: "Progressing", wrote: true },
  { at: 3.9, weight: 20, phase: "Progressing", wrote: true, verdict: "fail", analysedWeight: 20, errorRate: 0.21 },
  { at: 7.0, weight: 0, phase: "RolledBack", wrote: true, verdict: "fail", analysedWeight: 20, errorRate: 0.19 },
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

  it("draws both series in both panels, with a legend entry each", () => {
    for (const id of ["good", "bad"]) {
      expect(points(line(elements, id, "weight")?.attributes.points).length).toBeGreaterThan(1);
      expect(points(line(elements, id, "errors")?.attributes.points).length).toBe(id === "good" ? 3 : 2);
    }
    expect(svg).toContain(">good: v2 healthy</text>");
    expect(svg).toContain(">bad: v2 failing 20%</text>");
    expect(line(elements, "good", "weight")?.attributes.stroke).not.toBe(
      line(elements, "bad", "weight")?.attributes.stroke,
    );
  });

  it("keeps every vertex inside its panel and scales weights onto the box: 100% at the top, 0% at the bottom", () => {
    const weightBox = boxOf(elements, "weight");
    const errorBox = boxOf(elements, "errors");
    expect(weightBox).toEqual(chartLayout(900, 560).weight);
    for (const [panel, box] of [
      ["weight", weightBox],
      ["errors", errorBox],
    ] as const) {
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
    const bottom = weightBox.y + weightBox.height;
    // Both start at 0% at t = 0: the bottom-left corner.
    expect(goodLine[0]).toEqual([weightBox.x, bottom]);
    expect(badLine[0]).toEqual([weightBox.x, bottom]);
    // The healthy one ends at 100% (the top), the failing one back at 0% (the bottom).
    expect(goodLine.at(-1)?.[1]).toBe(weightBox.y);
    expect(badLine.at(-1)?.[1]).toBe(bottom);
    // 50% is half way up, and later points lie further right.
    const half = weightBox.y + weightBox.height / 2;
    expect(goodLine.some(([, y]) => Math.abs(y - half) <= 0.1)).toBe(true);
    const xs = goodLine.map(([x]) => x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    // The longest run spans the axis up to the next round tick, not beyond the box.
    expect(Math.max(...xs)).toBeGreaterThan(weightBox.x + weightBox.width / 2);
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
    // Each analysis appears in both panels.
    expect(markers.filter((e) => e.attributes.class === "marker pass")).toHaveLength(6);
    expect(markers.filter((e) => e.attributes.class === "marker fail")).toHaveLength(4);
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
    expect(escapeXml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
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
