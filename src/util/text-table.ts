// The one text table and byte formatter of every command line and text UI (Viscript's `la`, `skywire node
// status`, `skywire services`, the desktop's apps panel), so columns never run together and sizes are always
// binary units (KiB, MiB) everywhere. Pure functions: browser code may use them too.

/** Bytes in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`, `1.25 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n < 1024 ** 4) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  return `${(n / 1024 ** 4).toFixed(2)} TiB`;
}

/**
 * A plain text table: columns padded to their widest cell and two spaces apart, the last column free, or cut
 * (ending in "…") so that a line fits `maxWidth` characters.
 */
export function table(header: string[], rows: string[][], maxWidth?: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const last = header.length - 1;
  const room = maxWidth === undefined ? Infinity : Math.max(8, maxWidth - widths.slice(0, last).reduce((n, w) => n + w + 2, 0));
  const cut = (c: string) => (c.length > room ? c.slice(0, room - 1) + '…' : c);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === last ? cut(c) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
