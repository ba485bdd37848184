// Hand-written SVG for docs/benchmarks.svg: per-run distributions (strip + box plots on a
// log time axis), throughput by concurrency, and RSS over many runs.
import { fmt, subsample, summarize } from './stats.mjs';

const COLORS = {
  ns: '#1f77b4',
  floor: '#2ca02c',
  ref: '#7f7f7f',
  node: '#ff7f0e',
};

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A deterministic jitter in [-1, 1] (no Math.random: the same data gives the same file). */
function jitter(k) {
  const x = Math.sin(k * 12.9898) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
}

/**
 * rows: [{ label, kind: 'ns'|'floor'|'ref'|'node', samples: number[] (ms), section?: string }]
 * throughput: [{ label, perSecond, kind }], target line `targetPerSecond`
 * rss: [{ runs, mb }] and heap [{ runs, mb }]
 */
export function renderSvg({ title, subtitle, rows, throughput, targetPerSecond, rss }) {
  const W = 1000;
  const left = 300;
  const right = 110;
  const rowH = 24;
  const plotW = W - left - right;
  const parts = [];
  let y = 0;

  parts.push(`<text x="16" y="26" font-size="17" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="16" y="46" font-size="12" fill="#555">${esc(subtitle)}</text>`);
  y = 64;

  // ---- Panel A: distributions -------------------------------------------------------------
  const all = rows.flatMap((r) => r.samples).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1e-3, Math.min(...all)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const xOf = (v) => left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  parts.push(`<text x="16" y="${y + 4}" font-size="14" font-weight="bold">Per-run time, ms (log scale): dots are runs, box p25–p75, whiskers p5–p95, bar median</text>`);
  y += 16;
  const top = y;
  let section = null;
  const body = [];
  for (const r of rows) {
    if (r.section && r.section !== section) {
      section = r.section;
      y += 6;
      body.push(`<text x="16" y="${y + 14}" font-size="12" font-weight="bold" fill="#333">${esc(section)}</text>`);
      y += 20;
    }
    const s = summarize(r.samples);
    const cy = y + rowH / 2;
    const color = COLORS[r.kind] ?? COLORS.ref;
    body.push(`<text x="${left - 8}" y="${cy + 4}" font-size="11" text-anchor="end">${esc(r.label)}</text>`);
    const pts = subsample(r.samples, 400);
    pts.forEach((v, k) => {
      body.push(`<circle cx="${xOf(v).toFixed(1)}" cy="${(cy + jitter(k) * (rowH * 0.32)).toFixed(1)}" r="1.5" fill="${color}" fill-opacity="0.35"/>`);
    });
    body.push(`<line x1="${xOf(s.p5).toFixed(1)}" x2="${xOf(s.p95).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#222" stroke-width="1"/>`);
    body.push(
      `<rect x="${xOf(s.p25).toFixed(1)}" y="${cy - rowH * 0.3}" width="${Math.max(1, xOf(s.p75) - xOf(s.p25)).toFixed(1)}" height="${rowH * 0.6}" fill="${color}" fill-opacity="0.18" stroke="${color}"/>`,
    );
    body.push(`<line x1="${xOf(s.median).toFixed(1)}" x2="${xOf(s.median).toFixed(1)}" y1="${cy - rowH * 0.4}" y2="${cy + rowH * 0.4}" stroke="#000" stroke-width="2"/>`);
    body.push(`<text x="${W - right + 8}" y="${cy + 4}" font-size="11">${fmt(s.median)} ms</text>`);
    y += rowH;
  }
  // grid and axis
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hi * 1.0001) break;
      const x = xOf(v).toFixed(1);
      parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${y}" stroke="#ddd" stroke-width="${m === 1 ? 1 : 0.5}"/>`);
      parts.push(`<text x="${x}" y="${y + 14}" font-size="10" text-anchor="middle" fill="#555">${v >= 1 ? v : v.toPrecision(1)}</text>`);
    }
  }
  parts.push(...body);
  y += 36;

  // ---- Panel B: throughput ------------------------------------------------------------------
  if (throughput?.length) {
    parts.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">Throughput, containers/s (start + wait of /bin/true)</text>`);
    y += 10;
    const maxV = Math.max(targetPerSecond ?? 0, ...throughput.map((t) => t.perSecond)) * 1.1;
    const barH = 18;
    const x0 = left;
    const wOf = (v) => (v / maxV) * plotW;
    const top2 = y;
    for (const t of throughput) {
      const color = COLORS[t.kind] ?? COLORS.ref;
      parts.push(`<text x="${x0 - 8}" y="${y + barH / 2 + 8}" font-size="11" text-anchor="end">${esc(t.label)}</text>`);
      parts.push(`<rect x="${x0}" y="${y + 4}" width="${wOf(t.perSecond).toFixed(1)}" height="${barH - 2}" fill="${color}" fill-opacity="0.7"/>`);
      parts.push(`<text x="${(x0 + wOf(t.perSecond) + 6).toFixed(1)}" y="${y + barH / 2 + 8}" font-size="11">${fmt(t.perSecond)}</text>`);
      y += barH + 4;
    }
    if (targetPerSecond) {
      const x = (x0 + wOf(targetPerSecond)).toFixed(1);
      parts.push(`<line x1="${x}" x2="${x}" y1="${top2}" y2="${y + 4}" stroke="#d62728" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${x}" y="${y + 16}" font-size="10" fill="#d62728" text-anchor="middle">target ${targetPerSecond}/s</text>`);
    }
    y += 40;
  }

  // ---- Panel C: RSS ------------------------------------------------------------------------
  if (rss?.length > 1) {
    parts.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">Node process memory over ${rss[rss.length - 1].runs} library runs (MB)</text>`);
    y += 14;
    const h = 150;
    const x0 = left;
    const maxRuns = rss[rss.length - 1].runs;
    const maxMb = Math.max(...rss.map((r) => Math.max(r.rss, r.rssAfterGc ?? 0, r.heap))) * 1.15;
    const X = (runs) => x0 + (runs / maxRuns) * plotW;
    const Y = (mb) => y + h - (mb / maxMb) * h;
    parts.push(`<rect x="${x0}" y="${y}" width="${plotW}" height="${h}" fill="none" stroke="#ccc"/>`);
    for (let k = 0; k <= 4; k++) {
      const mb = (maxMb * k) / 4;
      parts.push(`<text x="${x0 - 6}" y="${Y(mb) + 4}" font-size="10" text-anchor="end" fill="#555">${mb.toFixed(0)}</text>`);
      parts.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${Y(mb)}" y2="${Y(mb)}" stroke="#eee"/>`);
    }
    const line = (key, color, label, k) => {
      const d = rss.map((r, i) => `${i ? 'L' : 'M'}${X(r.runs).toFixed(1)},${Y(r[key]).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const r of rss) parts.push(`<circle cx="${X(r.runs).toFixed(1)}" cy="${Y(r[key]).toFixed(1)}" r="2.5" fill="${color}"/>`);
      parts.push(`<text x="${x0 + plotW + 8}" y="${y + 14 + k * 14}" font-size="11" fill="${color}">${esc(label)}</text>`);
    };
    line('rss', COLORS.ns, 'RSS', 0);
    if (rss[0].rssAfterGc !== undefined) line('rssAfterGc', COLORS.floor, 'RSS after gc', 1);
    line('heap', COLORS.node, 'heap used', 2);
    for (let k = 0; k <= 4; k++) {
      const runs = Math.round((maxRuns * k) / 4);
      parts.push(`<text x="${X(runs)}" y="${y + h + 14}" font-size="10" text-anchor="middle" fill="#555">${runs}</text>`);
    }
    y += h + 34;
  }

  // legend
  parts.push(
    `<text x="16" y="${y}" font-size="11" fill="#333">` +
      `<tspan fill="${COLORS.ns}">■ @ns</tspan>  <tspan fill="${COLORS.floor}">■ C floor (bench/floor.c)</tspan>  ` +
      `<tspan fill="${COLORS.node}">■ Node baselines</tspan>  <tspan fill="${COLORS.ref}">■ other tools</tspan></text>`,
  );
  y += 16;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
