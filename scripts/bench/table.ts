// A tiny aligned, markdown-compatible table printer shared by the bench scripts, so their stdout can be pasted
// into an issue or a PR as is.

export type Cell = string | number;
export type Align = 'l' | 'r';

/** Renders rows under headers; numbers are right-aligned unless `align` says otherwise. */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], align?: readonly Align[]): string {
  const text = rows.map((row) => headers.map((_, i) => String(row[i] ?? '')));
  const alignOf = (i: number): Align => align?.[i] ?? (rows.length > 0 && typeof rows[0]![i] === 'number' ? 'r' : 'l');
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length), 3));
  const pad = (s: string, i: number) => (alignOf(i) === 'r' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (alignOf(i) === 'r' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line([...headers]), rule, ...text.map(line)].join('\n');
}

/** Fixed decimals with thousands separators, e.g. 12,345.6. */
export function fmt(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
