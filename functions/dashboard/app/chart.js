// A canary's timeline with uPlot: the canary and stable weights (left axis, %), each check's value as a share of its
// limit (right axis: 1 is the limit, whatever the check's unit), and below them one marker per analysed pass,
// coloured and shaped by its worst outcome. uPlot loads on first use,
// so the flag views never download it.

let loading;
const uPlotModule = () => {
  loading ??= import("../vendor/uplot.js").then((module) => module.default);
  return loading;
};

const OUTCOME_COLOURS = { pass: "#1a7f37", fail: "#cf222e", inconclusive: "#6e7781" };

/** The worst outcome of a point's checks: fail, then inconclusive, then pass; undefined without checks. */
export function worstOutcome(point) {
  const outcomes = point.checks.map((check) => check.outcome);
  if (outcomes.includes("fail")) return "fail";
  if (outcomes.length === 0) return undefined;
  // Inconclusive, no data or a failed query: not judged either way.
  return outcomes.every((outcome) => outcome === "pass") ? "pass" : "inconclusive";
}

/** A check's value over its threshold (1: at the limit); null without a value or with a zero threshold. */
const ofLimit = (check) =>
  check?.value === undefined || !check.threshold ? null : Math.round((check.value / check.threshold) * 1000) / 1000;

/** uPlot's columns: time in seconds, canary and stable weight, then one column per check name (value / limit). */
export function chartData(timeline) {
  const names = [...new Set(timeline.points.flatMap((point) => point.checks.map((check) => check.name)))];
  const times = timeline.points.map((point) => Date.parse(point.at) / 1000);
  const canary = timeline.points.map((point) => point.weights?.canary ?? null);
  const stable = timeline.points.map((point) => point.weights?.stable ?? null);
  const checks = names.map((name) =>
    timeline.points.map((point) => ofLimit(point.checks.find((check) => check.name === name))),
  );
  return { names, data: [times, canary, stable, ...checks] };
}

function outcomeMarkers(timeline) {
  return (u) => {
    const { ctx } = u;
    const y = u.bbox.top + u.bbox.height - 8 * devicePixelRatio;
    timeline.points.forEach((point, index) => {
      const outcome = worstOutcome(point);
      if (!outcome) return;
      const x = u.valToPos(u.data[0][index], "x", true);
      ctx.fillStyle = OUTCOME_COLOURS[outcome];
      ctx.beginPath();
      const r = 5 * devicePixelRatio;
      if (outcome === "fail") {
        ctx.moveTo(x, y - r);
        ctx.lineTo(x + r, y + r);
        ctx.lineTo(x - r, y + r);
      } else ctx.arc(x, y, r * 0.8, 0, 2 * Math.PI);
      ctx.fill();
    });
  };
}

/** Draws (or redraws) the chart into `element`; returns the uPlot instance, whose destroy() the caller calls. */
export async function drawTimeline(element, timeline, previous) {
  const uPlot = await uPlotModule();
  const { names, data } = chartData(timeline);
  const width = Math.max(320, Math.min(element.clientWidth || 720, 960));
  if (previous && previous.series.length === data.length) {
    previous.setData(data);
    return previous;
  }
  previous?.destroy();
  const palette = ["#8250df", "#bc4c00", "#0969da", "#57606a"];
  return new uPlot(
    {
      width,
      height: 240,
      scales: { x: { time: true }, "%": { range: [0, 100] } },
      axes: [
        {},
        { scale: "%", label: "weight %" },
        { scale: "value", side: 1, label: "check value / its limit", grid: { show: false } },
      ],
      series: [
        {},
        { label: "canary weight", scale: "%", stroke: "#0a7d3b", width: 2 },
        { label: "stable weight", scale: "%", stroke: "#999", width: 1, dash: [4, 4] },
        ...names.map((name, index) => ({
          label: name,
          scale: "value",
          stroke: palette[index % palette.length],
          width: 1,
          points: { show: true, size: 6 },
        })),
      ],
      hooks: { draw: [outcomeMarkers(timeline)] },
    },
    data,
    element,
  );
}
