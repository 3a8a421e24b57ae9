// Draws rollout timelines as one hand-written SVG chart: canary weight over time above, the 5xx rate read below.
/*
 * Pure: series in, markup out. Two panels share the x axis (seconds since each rollout started, so runs of different
 * lengths overlay): the canary weight as a step line (it holds until the stepper changes it), with a marker at each
 * analysis (filled: pass, cross: fail, hollow: inconclusive) whose tooltip has the numbers; and the error rate each
 * analysis read. Each plot area is a `<rect class="plot" data-panel=...>` and each line a `<polyline data-series=...
 * data-panel=...>`, so the output can be checked (and styled) without parsing paths. Every text is escaped.
 */
import type { TimelinePoint } from "./timeline.ts";

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
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const PALETTE = ["#1a7f37", "#cf222e", "#0969da", "#8250df", "#9a6700"];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** Escapes text for element content and double- or single-quoted attributes. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

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

/** The two plot areas for a chart of this size (the margins hold the axes, the legend and the end labels). */
export function chartLayout(width: number, height: number): { weight: Box; errors: Box } {
  const left = 72;
  const right = 110;
  const top = 76;
  const plotWidth = Math.max(100, width - left - right);
  const available = Math.max(200, height - top - 80);
  const weightHeight = Math.round(available * 0.64);
  const gap = 44;
  const errorsHeight = Math.max(40, available - weightHeight - gap);
  return {
    weight: { x: left, y: top, width: plotWidth, height: weightHeight },
    errors: { x: left, y: top + weightHeight + gap, width: plotWidth, height: errorsHeight },
  };
}

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

const finite = (value: number | undefined): value is number => value !== undefined && Number.isFinite(value);

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
  return escapeXml(parts.join(" · "));
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

export function renderTimelineSvg(series: readonly ChartSeries[], options: ChartOptions = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 560;
  const title = options.title ?? "greenlight demo: canary weight over time";
  const { weight: wBox, errors: eBox } = chartLayout(width, height);
  const colorOf = (index: number, chosen?: string): string => chosen ?? PALETTE[index % PALETTE.length] ?? "#57606a";

  const lastAt = Math.max(0, ...series.flatMap((s) => s.points.map((point) => (finite(point.at) ? point.at : 0))));
  const xStep = niceStep(Math.max(lastAt, 1), 10);
  const xMax = Math.max(xStep, Math.ceil(lastAt / xStep) * xStep);
  const xOf = (at: number) => wBox.x + (clamp(finite(at) ? at : 0, 0, xMax) / xMax) * wBox.width;
  const yWeight = (weight: number) => wBox.y + wBox.height - (clamp(weight, 0, 100) / 100) * wBox.height;

  const worstError = Math.max(
    0,
    ...series.flatMap((s) => s.points.map((p) => (finite(p.errorRate) ? p.errorRate : 0))),
  );
  const eStep = niceStep(Math.max(worstError * 1.1, 0.05), 4);
  const eMax = Math.max(eStep, Math.ceil((worstError * 1.1) / eStep) * eStep);
  const yError = (rate: number) => eBox.y + eBox.height - (clamp(rate, 0, eMax) / eMax) * eBox.height;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="demo-title" ${FONT} font-size="12">`,
    `<title id="demo-title">${escapeXml(title)}</title>`,
    `<desc>${escapeXml(series.map((s) => `${s.label}: ${s.points.at(-1)?.phase ?? "no data"}`).join("; "))}</desc>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${wBox.x}" y="32" font-size="16" font-weight="600" fill="#1f2328">${escapeXml(title)}</text>`,
  );

  // Plot areas, grid lines and axes.
  for (const [panel, box] of [
    ["weight", wBox],
    ["errors", eBox],
  ] as const) {
    out.push(
      `<rect class="plot" data-panel="${panel}" x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" fill="#f6f8fa" stroke="#d0d7de"/>`,
    );
    for (const tick of axisTicks(xStep, xMax)) {
      const x = num(xOf(tick));
      out.push(`<line x1="${x}" y1="${box.y}" x2="${x}" y2="${box.y + box.height}" stroke="#eaeef2"/>`);
    }
  }
  for (const tick of axisTicks(25, 100)) {
    const y = num(yWeight(tick));
    out.push(
      `<line x1="${wBox.x}" y1="${y}" x2="${wBox.x + wBox.width}" y2="${y}" stroke="#eaeef2"/>`,
      `<text x="${wBox.x - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${tick}%</text>`,
    );
  }
  for (const tick of axisTicks(eStep, eMax)) {
    const y = num(yError(tick));
    out.push(
      `<line x1="${eBox.x}" y1="${y}" x2="${eBox.x + eBox.width}" y2="${y}" stroke="#eaeef2"/>`,
      `<text x="${eBox.x - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${num(tick * 100)}%</text>`,
    );
  }
  for (const tick of axisTicks(xStep, xMax)) {
    out.push(
      `<text x="${num(xOf(tick))}" y="${eBox.y + eBox.height + 18}" text-anchor="middle" fill="#57606a">${num(tick)}</text>`,
    );
  }
  out.push(
    `<text x="${wBox.x + wBox.width / 2}" y="${eBox.y + eBox.height + 40}" text-anchor="middle" fill="#1f2328">seconds since the rollout started</text>`,
    `<text transform="translate(20 ${wBox.y + wBox.height / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">canary weight</text>`,
    `<text transform="translate(20 ${eBox.y + eBox.height / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">5xx rate read</text>`,
  );

  // The series.
  const endLabels: { y: number; text: string; color: string; x: number }[] = [];
  series.forEach((one, index) => {
    const color = colorOf(index, one.color);
    const id = escapeXml(one.id);
    const points = one.points.filter((point) => finite(point.at) && finite(point.weight));
    // A step line: the weight holds until a run changes it; runs that change nothing add no vertices.
    const steps: string[] = [];
    points.forEach((point, i) => {
      const previous = points[i - 1];
      const isLast = i === points.length - 1;
      if (previous && previous.weight === point.weight && !isLast) return;
      if (previous) steps.push(`${num(xOf(point.at))},${num(yWeight(previous.weight))}`);
      if (!previous || previous.weight !== point.weight)
        steps.push(`${num(xOf(point.at))},${num(yWeight(point.weight))}`);
    });
    out.push(
      `<g class="series" data-series="${id}">`,
      `<polyline data-series="${id}" data-panel="weight" points="${steps.join(" ")}" fill="none" stroke="${color}" stroke-width="2.5" stroke-linejoin="round"/>`,
    );
    for (const point of points) {
      // At the weight the analysis judged: the corner before the step it allowed (or the drop it caused).
      const judged = point.analysedWeight ?? point.weight;
      if (point.verdict) out.push(marker(xOf(point.at), yWeight(judged), point, color, tooltip(one, point)));
    }
    const analysed = points.filter((point) => finite(point.errorRate));
    out.push(
      `<polyline data-series="${id}" data-panel="errors" points="${analysed
        .map((point) => `${num(xOf(point.at))},${num(yError(point.errorRate ?? 0))}`)
        .join(" ")}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    );
    for (const point of analysed) {
      out.push(marker(xOf(point.at), yError(point.errorRate ?? 0), point, color, tooltip(one, point)));
    }
    out.push("</g>");
    const last = points.at(-1);
    if (last) endLabels.push({ x: xOf(last.at) + 8, y: yWeight(last.weight), text: last.phase, color });
  });

  // End labels: the final phase next to each line's end, nudged apart when two lines end at the same height.
  endLabels.sort((a, b) => a.y - b.y);
  endLabels.forEach((label, i) => {
    const above = endLabels[i - 1];
    if (above && label.y - above.y < 14) label.y = above.y + 14;
    out.push(
      `<text class="end-label" x="${num(label.x)}" y="${num(label.y)}" dominant-baseline="middle" fill="${label.color}" font-weight="600">${escapeXml(label.text)}</text>`,
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
      `<text class="legend" x="${legendX + 24}" y="${legendY}" dominant-baseline="middle" fill="#1f2328">${escapeXml(one.label)}</text>`,
    );
    advance(one.label);
  });
  const key = (shape: string, text: string) => {
    out.push(
      shape,
      `<text x="${legendX + 24}" y="${legendY}" dominant-baseline="middle" fill="#57606a">${escapeXml(text)}</text>`,
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
