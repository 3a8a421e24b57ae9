// Draws rollout timelines as one hand-written SVG chart: canary weight over time above, the 5xx rate and p99 read below.
/*
 * Pure: series in, markup out. Three panels share the x axis (seconds since each rollout started, so runs of different
 * lengths overlay): the canary weight as a step line (it holds until the stepper changes it), with a marker at each
 * analysis (filled: pass, cross: fail, hollow: inconclusive) whose tooltip has the numbers; then the error rate and
 * the p99 latency each analysis read, each with its gate as a dashed line when the caller gives it. Series that agree
 * (both canaries at their first step) are drawn a few pixels apart (DODGE_PX), and every marker after every line, so
 * none hides another. Each plot area is a `<rect class="plot" data-panel=...>` and each line a `<polyline
 * data-series=... data-panel=...>`, so the output can be checked (and styled) without parsing paths. Every text is
 * escaped.
 */
import { escapeHtml } from "../../functions/http/html.ts";
import type { TimelinePoint } from "./timeline.ts";

/** The chart's text escaper is the shared one (functions/http/html.ts). */

export interface ChartSeries {
  /** Short id used in `data-series` (e.g. "good"). */
  id: string;
  /** Legend text. */
  label: string;
  points: readonly TimelinePoint[];
  /** Colour override; default from the palette by position. */
  color?: string;
}

export interface ChartOptions {
  title?: string;
  width?: number;
  height?: number;
  /** The canary's gates, drawn as a dashed line in the panel of the value they limit. */
  limits?: ChartLimits;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const PALETTE = ["#1a7f37", "#cf222e", "#0969da", "#8250df", "#9a6700"];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const num = (value: number): string => {
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? "0" : String(rounded);
};

/** A round tick step so that `range` holds at most `maxTicks` steps: 1, 2 or 5 times a power of ten. */
export function niceStep(range: number, maxTicks: number): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const rough = range / Math.max(1, maxTicks);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? 10 * power;
  return step;
}

/** The three plot areas for a chart of this size (the margins hold the axes, the legend and the end labels). */
export function chartLayout(width: number, height: number): { weight: Box; errors: Box; latency: Box } {
  const left = 72;
  const right = 110;
  const top = 76;
  const plotWidth = Math.max(100, width - left - right);
  const available = Math.max(260, height - top - 80);
  const gap = 36;
  const weightHeight = Math.round(available * 0.5);
  const readHeight = Math.max(40, Math.floor((available - weightHeight - 2 * gap) / 2));
  const errorsY = top + weightHeight + gap;
  return {
    weight: { x: left, y: top, width: plotWidth, height: weightHeight },
    errors: { x: left, y: errorsY, width: plotWidth, height: readHeight },
    latency: { x: left, y: errorsY + readHeight + gap, width: plotWidth, height: readHeight },
  };
}

/**
 * Vertical pixels between two series drawn at the same value. Without it the last series would cover the others
 * wherever they agree (the demo's two canaries both sit at the first step until the first analysis): each series is
 * drawn this far from its neighbour, centred on the value, so equal lines run side by side.
 */
export const DODGE_PX = 5;

/** How far series `index` of `count` is drawn from the exact value, in pixels (negative: up). */
export const dodgeOf = (index: number, count: number): number => (index - (count - 1) / 2) * DODGE_PX;

/** Pixels kept free inside each plot area, above its top value and below its 0, so a dodged line stays inside. */
const insetFor = (count: number): number => Math.max(6, Math.abs(dodgeOf(0, count)) + 4);

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

const finite = (value: number | undefined): value is number => value !== undefined && Number.isFinite(value);

/** A latency for an axis or a label: `250 ms`, `1.5 s`. */
export function formatMs(ms: number): string {
  if (ms === 0) return "0";
  if (ms >= 1000) return `${num(ms / 1000)} s`;
  return `${num(ms)} ms`;
}

function tooltip(series: ChartSeries, point: TimelinePoint): string {
  const parts = [
    `${series.label}: ${point.at.toFixed(1)} s`,
    point.analysedWeight !== undefined && point.analysedWeight !== point.weight
      ? `canary ${point.analysedWeight}% → ${point.weight}%`
      : `canary ${point.weight}%`,
    point.phase,
    ...(point.verdict ? [`analysis ${point.verdict}`] : []),
    ...(finite(point.errorRate) ? [`errors ${(point.errorRate * 100).toFixed(2)}%`] : []),
    ...(finite(point.p99Ms) ? [`p99 ${Math.round(point.p99Ms)} ms`] : []),
    ...(point.note ? [point.note] : []),
  ];
  return escapeHtml(parts.join(" · "));
}

function marker(x: number, y: number, point: TimelinePoint, color: string, title: string): string {
  const label = `<title>${title}</title>`;
  if (point.verdict === "fail") {
    const d = `M${num(x - 4)},${num(y - 4)}L${num(x + 4)},${num(y + 4)}M${num(x - 4)},${num(y + 4)}L${num(x + 4)},${num(y - 4)}`;
    return `<path class="marker fail" d="${d}" stroke="${color}" stroke-width="2.5">${label}</path>`;
  }
  const fill = point.verdict === "pass" ? color : "#ffffff";
  return `<circle class="marker ${point.verdict ?? "run"}" cx="${num(x)}" cy="${num(y)}" r="4" fill="${fill}" stroke="${color}" stroke-width="1.5">${label}</circle>`;
}

function axisTicks(step: number, max: number): number[] {
  const ticks: number[] = [];
  for (let value = 0; value <= max + step / 1e6; value += step) ticks.push(Math.round(value * 1e6) / 1e6);
  return ticks;
}

/** A panel's value axis: 0 at the bottom of its box, `max` at the top, `inset` pixels inside both edges. */
interface Scale {
  max: number;
  step: number;
  y: (value: number) => number;
  label: (value: number) => string;
}

function scaleFor(box: Box, max: number, step: number, inset: number, label: (value: number) => string): Scale {
  const bottom = box.y + box.height - inset;
  const span = box.height - 2 * inset;
  return { max, step, y: (value) => bottom - (clamp(value, 0, max) / max) * span, label };
}

/** The scale of a panel of reads (5xx rate, p99): up to the worst read or the limit, whichever is higher, plus room. */
function readScale(
  box: Box,
  values: number[],
  limit: number | undefined,
  floor: number,
  inset: number,
  label: (value: number) => string,
): Scale {
  const top = Math.max(floor, ...values, ...(finite(limit) ? [limit] : [])) * 1.1;
  const step = niceStep(top, 4);
  return scaleFor(box, Math.max(step, Math.ceil(top / step) * step), step, inset, label);
}

/** Gates drawn in the read panels as a dashed line at the limit, e.g. the canary's max-error-rate. */
export interface ChartLimits {
  /** greenlight.dev/max-error-rate as a fraction (0.01 for 1%). */
  errorRate?: number;
  /** greenlight.dev/max-latency-p99 in milliseconds. */
  p99Ms?: number;
}

export function renderTimelineSvg(series: readonly ChartSeries[], options: ChartOptions = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 680;
  const title = options.title ?? "greenlight demo: canary weight over time";
  const { weight: wBox, errors: eBox, latency: lBox } = chartLayout(width, height);
  const colorOf = (index: number, chosen?: string): string => chosen ?? PALETTE[index % PALETTE.length] ?? "#57606a";
  const inset = insetFor(series.length);
  const limits = options.limits ?? {};

  const lastAt = Math.max(0, ...series.flatMap((s) => s.points.map((point) => (finite(point.at) ? point.at : 0))));
  const xStep = niceStep(Math.max(lastAt, 1), 10);
  const xMax = Math.max(xStep, Math.ceil(lastAt / xStep) * xStep);
  const xOf = (at: number) => wBox.x + (clamp(finite(at) ? at : 0, 0, xMax) / xMax) * wBox.width;

  const reads = (of: (point: TimelinePoint) => number | undefined): number[] =>
    series.flatMap((s) => s.points.map(of).filter(finite));
  // The tick labels are bare numbers, their unit in the axis title: "500 ms" would run into the title.
  const latencyRead = readScale(
    lBox,
    reads((point) => point.p99Ms),
    limits.p99Ms,
    100,
    inset,
    num,
  );
  const latencyInSeconds = latencyRead.max >= 1000;
  const latencyScale: Scale = latencyInSeconds ? { ...latencyRead, label: (value) => num(value / 1000) } : latencyRead;
  const panels = [
    { panel: "weight", box: wBox, scale: scaleFor(wBox, 100, 25, inset, (value) => `${value}%`) },
    {
      panel: "errors",
      box: eBox,
      scale: readScale(
        eBox,
        reads((point) => point.errorRate),
        limits.errorRate,
        0.05,
        inset,
        (value) => `${num(value * 100)}%`,
      ),
      value: (point: TimelinePoint) => point.errorRate,
      limit: limits.errorRate,
      limitText: (value: number) => `max ${num(value * 100)}%`,
      axis: "5xx rate read",
    },
    {
      panel: "latency",
      box: lBox,
      scale: latencyScale,
      value: (point: TimelinePoint) => point.p99Ms,
      limit: limits.p99Ms,
      limitText: (value: number) => `max ${formatMs(value)}`,
      axis: `p99 latency read (${latencyInSeconds ? "s" : "ms"})`,
    },
  ] as const;
  const [weightPanel] = panels;
  const yWeight = weightPanel.scale.y;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="demo-title" ${FONT} font-size="12">`,
    `<title id="demo-title">${escapeHtml(title)}</title>`,
    `<desc>${escapeHtml(series.map((s) => `${s.label}: ${s.points.at(-1)?.phase ?? "no data"}`).join("; "))}</desc>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${wBox.x}" y="32" font-size="16" font-weight="600" fill="#1f2328">${escapeHtml(title)}</text>`,
  );

  // Plot areas, grid lines, value axes and the limits.
  for (const { panel, box, scale } of panels) {
    out.push(
      `<rect class="plot" data-panel="${panel}" x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" fill="#f6f8fa" stroke="#d0d7de"/>`,
    );
    for (const tick of axisTicks(xStep, xMax)) {
      const x = num(xOf(tick));
      out.push(`<line x1="${x}" y1="${box.y}" x2="${x}" y2="${box.y + box.height}" stroke="#eaeef2"/>`);
    }
    for (const tick of axisTicks(scale.step, scale.max)) {
      const y = num(scale.y(tick));
      out.push(
        `<line x1="${box.x}" y1="${y}" x2="${box.x + box.width}" y2="${y}" stroke="#eaeef2"/>`,
        `<text class="tick" data-panel="${panel}" data-value="${tick}" x="${box.x - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${escapeHtml(scale.label(tick))}</text>`,
      );
    }
  }
  for (const panel of panels.slice(1)) {
    if (!("limit" in panel) || !finite(panel.limit)) continue;
    const y = num(panel.scale.y(panel.limit));
    out.push(
      `<line class="limit" data-panel="${panel.panel}" x1="${panel.box.x}" y1="${y}" x2="${panel.box.x + panel.box.width}" y2="${y}" stroke="#57606a" stroke-width="1" stroke-dasharray="6 4"/>`,
      `<text class="limit" data-panel="${panel.panel}" x="${panel.box.x + panel.box.width + 8}" y="${y}" dominant-baseline="middle" fill="#57606a">${escapeHtml(panel.limitText(panel.limit))}</text>`,
    );
  }
  for (const tick of axisTicks(xStep, xMax)) {
    out.push(
      `<text x="${num(xOf(tick))}" y="${lBox.y + lBox.height + 18}" text-anchor="middle" fill="#57606a">${num(tick)}</text>`,
    );
  }
  out.push(
    `<text x="${wBox.x + wBox.width / 2}" y="${lBox.y + lBox.height + 40}" text-anchor="middle" fill="#1f2328">seconds since the rollout started</text>`,
    `<text transform="translate(20 ${wBox.y + wBox.height / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">canary weight</text>`,
  );
  for (const panel of panels.slice(1)) {
    if (!("axis" in panel)) continue;
    out.push(
      `<text transform="translate(20 ${panel.box.y + panel.box.height / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">${panel.axis}</text>`,
    );
  }

  // The series: every line first, then every marker, so that no line covers a marker.
  const endLabels: { y: number; text: string; color: string; x: number }[] = [];
  const markers: string[] = [];
  series.forEach((one, index) => {
    const color = colorOf(index, one.color);
    const id = escapeHtml(one.id);
    const dodge = dodgeOf(index, series.length);
    const points = one.points.filter((point) => finite(point.at) && finite(point.weight));
    const yOf = (weight: number) => yWeight(weight) + dodge;
    // A step line: the weight holds until a run changes it; runs that change nothing add no vertices.
    const steps: string[] = [];
    points.forEach((point, i) => {
      const previous = points[i - 1];
      const isLast = i === points.length - 1;
      if (previous && previous.weight === point.weight && !isLast) return;
      if (previous) steps.push(`${num(xOf(point.at))},${num(yOf(previous.weight))}`);
      if (!previous || previous.weight !== point.weight) steps.push(`${num(xOf(point.at))},${num(yOf(point.weight))}`);
    });
    out.push(
      `<g class="series" data-series="${id}">`,
      `<polyline data-series="${id}" data-panel="weight" points="${steps.join(" ")}" fill="none" stroke="${color}" stroke-width="2.5" stroke-linejoin="round"/>`,
    );
    markers.push(`<g class="markers" data-series="${id}">`);
    for (const point of points) {
      // At the weight the analysis judged: the corner before the step it allowed (or the drop it caused).
      const judged = point.analysedWeight ?? point.weight;
      if (point.verdict) markers.push(marker(xOf(point.at), yOf(judged), point, color, tooltip(one, point)));
    }
    for (const panel of panels.slice(1)) {
      if (!("value" in panel)) continue;
      const read = points.filter((point) => finite(panel.value(point)));
      const y = (point: TimelinePoint) => panel.scale.y(panel.value(point) ?? 0) + dodge;
      out.push(
        `<polyline data-series="${id}" data-panel="${panel.panel}" points="${read
          .map((point) => `${num(xOf(point.at))},${num(y(point))}`)
          .join(" ")}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
      );
      for (const point of read) markers.push(marker(xOf(point.at), y(point), point, color, tooltip(one, point)));
    }
    out.push("</g>");
    markers.push("</g>");
    const last = points.at(-1);
    if (last) endLabels.push({ x: xOf(last.at) + 8, y: yOf(last.weight), text: last.phase, color });
  });
  out.push(...markers);
  // End labels: the final phase next to each line's end, nudged apart when two lines end at the same height.
  endLabels.sort((a, b) => a.y - b.y);
  endLabels.forEach((label, i) => {
    const above = endLabels[i - 1];
    if (above && label.y - above.y < 14) label.y = above.y + 14;
    out.push(
      `<text class="end-label" x="${num(label.x)}" y="${num(label.y)}" dominant-baseline="middle" fill="${label.color}" font-weight="600">${escapeHtml(label.text)}</text>`,
    );
  });

  // Legend, one row under the title: the series, then what the markers mean. Widths are estimated from the text.
  const legendY = 52;
  let legendX = wBox.x;
  const advance = (text: string) => {
    legendX += 24 + text.length * 7 + 18;
  };
  series.forEach((one, index) => {
    const color = colorOf(index, one.color);
    out.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 18}" y2="${legendY}" stroke="${color}" stroke-width="2.5"/>`,
      `<text class="legend" x="${legendX + 24}" y="${legendY}" dominant-baseline="middle" fill="#1f2328">${escapeHtml(one.label)}</text>`,
    );
    advance(one.label);
  });
  const key = (shape: string, text: string) => {
    out.push(
      shape,
      `<text x="${legendX + 24}" y="${legendY}" dominant-baseline="middle" fill="#57606a">${escapeHtml(text)}</text>`,
    );
    advance(text);
  };
  key(`<circle cx="${legendX + 9}" cy="${legendY}" r="4" fill="#57606a"/>`, "analysis passed");
  key(
    `<path d="M${legendX + 5},${legendY - 4}L${legendX + 13},${legendY + 4}M${legendX + 5},${legendY + 4}L${legendX + 13},${legendY - 4}" stroke="#57606a" stroke-width="2.5"/>`,
    "failed",
  );
  key(
    `<circle cx="${legendX + 9}" cy="${legendY}" r="4" fill="#ffffff" stroke="#57606a" stroke-width="1.5"/>`,
    "inconclusive",
  );
  out.push("</svg>", "");
  return out.join("\n");
}
