// A tiny SVG sparkline (no library): the last N samples scaled to the box.
const NS = 'http://www.w3.org/2000/svg';

export function sparkline(values: number[], width = 90, height = 22, floor = 1): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.classList.add('spark');
  if (values.length) {
    const max = Math.max(floor, ...values);
    const step = values.length > 1 ? width / (values.length - 1) : width;
    const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`);
    const line = document.createElementNS(NS, 'polyline');
    line.setAttribute('points', pts.join(' '));
    svg.append(line);
  }
  return svg;
}
