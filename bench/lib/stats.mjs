// Small statistics helpers: every series is an array of numbers in milliseconds.

/** The q-quantile (0..1) of a series, linear interpolation between order statistics. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** n, min, p5, p25, median, p75, p95, p99, max, mean of a series (ms). */
export function summarize(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    min: s[0] ?? NaN,
    p5: quantile(s, 0.05),
    p25: quantile(s, 0.25),
    median: quantile(s, 0.5),
    p75: quantile(s, 0.75),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? NaN,
    mean,
  };
}

/** A number for a table: 3 significant digits, at most 3 decimals. */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toFixed(digits);
}

/** Evenly spaced subsample of at most `max` elements (for charts). */
export function subsample(values, max) {
  if (values.length <= max) return values.slice();
  const out = [];
  for (let k = 0; k < max; k++) out.push(values[Math.floor((k * values.length) / max)]);
  return out;
}
