// The text table `cxr predict` prints. Column widths come from the content: fixed widths
// (label 10, probabilities 12) let a longer class name push its header or a row's label into the
// next column, so "p(normal)p(pneumonia)" ran together and a row labelled "viral_pneumonia" had
// its probabilities shifted right of the headers they belong to.
export interface PredictionRow {
  file: string;
  label: string;
  probs: readonly number[];
}

export function formatPredictionTable(rows: readonly PredictionRow[], classes: readonly string[]): string {
  const fileWidth = Math.max(4, ...rows.map((p) => p.file.length));
  const labelWidth = Math.max(5, ...rows.map((p) => p.label.length));
  const headers = classes.map((c) => `p(${c})`);
  // two spaces between columns always; a probability is 6 characters (0.1234)
  const widths = headers.map((h) => Math.max(6, h.length));
  const line = (file: string, label: string, cells: readonly string[]) =>
    `${file.padEnd(fileWidth)}  ${label.padEnd(labelWidth)}${cells.map((c, k) => `  ${c.padStart(widths[k])}`).join('')}`;
  return [
    line('file', 'label', headers),
    ...rows.map((p) =>
      line(
        p.file,
        p.label,
        p.probs.map((v) => v.toFixed(4)),
      ),
    ),
  ].join('\n');
}
