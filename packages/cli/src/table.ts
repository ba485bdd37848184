/**
 * Plain text tables as runc prints them (Go's tabwriter with a padding of 3): every column
 * but the last padded to its widest cell plus three spaces.
 */

const PADDING = 3;

/** `rows` (the first one the header) as lines, each ending in a newline. */
export function formatTable(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((row) => row.map(String));
  const widths: number[] = [];
  for (const row of cells) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + PADDING))).join(''))
    .map((line) => `${line.trimEnd()}\n`)
    .join('');
}
