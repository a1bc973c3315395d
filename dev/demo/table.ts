// A plain-text table with word-wrapped cells, for the demo's outcome summary.

export interface Column {
  readonly header: string;
  /** Cells wider than this wrap at spaces (or hard, for a single long word). */
  readonly maxWidth: number;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w !== '')) {
      let w = word;
      while (w.length > width) {
        if (line !== '') {
          lines.push(line);
          line = '';
        }
        lines.push(w.slice(0, width));
        w = w.slice(width);
      }
      if (line === '') line = w;
      else if (line.length + 1 + w.length <= width) line += ` ${w}`;
      else {
        lines.push(line);
        line = w;
      }
    }
    lines.push(line);
  }
  return lines;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((c, i) => wrap(row[i] ?? '', c.maxWidth)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => Math.max(...(row[i] ?? ['']).map((l) => l.length)))));
  const rule = (l: string, m: string, r: string): string => `${l}${widths.map((w) => '─'.repeat(w + 2)).join(m)}${r}`;
  const line = (parts: readonly string[]): string => `│${parts.map((p, i) => ` ${p.padEnd(widths[i] ?? 0)} `).join('│')}│`;
  const out = [rule('┌', '┬', '┐'), line(columns.map((c) => c.header)), rule('├', '┼', '┤')];
  cells.forEach((row, r) => {
    const height = Math.max(...row.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(row.map((c) => c[k] ?? '')));
    out.push(r === cells.length - 1 ? rule('└', '┴', '┘') : rule('├', '┼', '┤'));
  });
  return out.join('\n');
}
