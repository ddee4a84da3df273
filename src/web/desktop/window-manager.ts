// Where the desktop's windows go. Two modes:
// - tiled (the default): terminals share the main area in a grid, panels (apps, and any later panel) stack in a
//   side column; every window is inside the desk and none overlaps another, from 800 px wide up. Re-tiled when a
//   window opens, closes, hides or the browser resizes.
// - float: the user moved or resized a window by hand (or typed `mt`); windows stay where they are put, with
//   their title bar kept inside the desk. The taskbar's Tile button (or `tile`) tiles again.
import type { DeskWindow, Rect } from './desk-window';

export type Role = 'main' | 'side';
export type Mode = 'tiled' | 'float';

const GAP = 6;
/** Narrower than this, panels go under the terminals instead of beside them. */
const SIDE_BY_SIDE_MIN = 720;
/** A terminal column is at least this wide (about 60 columns of text) before the grid adds another. */
const MIN_TILE_W = 420;

/** The tiles for `nMain` terminals and `nSide` panels in a desk of `w` x `h` pixels. */
export function tileRects(w: number, h: number, nMain: number, nSide: number): { main: Rect[]; side: Rect[] } {
  let mainArea: Rect = { x: GAP, y: GAP, w: w - 2 * GAP, h: h - 2 * GAP };
  let sideArea: Rect | undefined;
  if (nSide > 0 && nMain > 0) {
    if (w >= SIDE_BY_SIDE_MIN) {
      const sideW = Math.min(340, Math.max(240, Math.round(w * 0.28)));
      sideArea = { x: w - GAP - sideW, y: GAP, w: sideW, h: h - 2 * GAP };
      mainArea = { ...mainArea, w: w - 3 * GAP - sideW };
    } else {
      const sideH = Math.round((h - 3 * GAP) * 0.4);
      sideArea = { x: GAP, y: h - GAP - sideH, w: w - 2 * GAP, h: sideH };
      mainArea = { ...mainArea, h: h - 3 * GAP - sideH };
    }
  } else if (nSide > 0) sideArea = mainArea;
  return { main: grid(mainArea, nMain, MIN_TILE_W), side: sideArea ? grid(sideArea, nSide, Infinity) : [] };
}

/** `n` tiles in `area`: as square a grid as the minimum width allows; the last row shares its width. */
function grid(area: Rect, n: number, minW: number): Rect[] {
  if (n === 0) return [];
  const cols = Math.max(1, Math.min(Math.ceil(Math.sqrt(n)), Math.floor((area.w + GAP) / (minW + GAP))));
  const rows = Math.ceil(n / cols);
  const cellH = (area.h - (rows - 1) * GAP) / rows;
  const out: Rect[] = [];
  for (let r = 0; r < rows; r++) {
    const inRow = Math.min(cols, n - r * cols);
    const cellW = (area.w - (inRow - 1) * GAP) / inRow;
    for (let c = 0; c < inRow; c++) out.push({ x: area.x + c * (cellW + GAP), y: area.y + r * (cellH + GAP), w: cellW, h: cellH });
  }
  return out;
}

export class WindowManager {
  private readonly windows: Array<{ win: DeskWindow; role: Role }> = [];
  private modeNow: Mode = 'tiled';
  private z = 10;

  constructor(
    private readonly desk: HTMLElement,
    private readonly onChange: () => void = () => {},
  ) {}

  get mode(): Mode {
    return this.modeNow;
  }

  /** Where a new window goes before it is tiled: cascaded, no larger than the desk. */
  initialRect(want: { w: number; h: number }): Rect {
    const n = this.windows.length;
    const w = Math.min(want.w, this.desk.clientWidth - 2 * GAP);
    const h = Math.min(want.h, this.desk.clientHeight - 2 * GAP);
    const x = Math.min(30 + 36 * (n % 8), Math.max(0, this.desk.clientWidth - w));
    const y = Math.min(20 + 30 * (n % 8), Math.max(0, this.desk.clientHeight - h));
    return { x, y, w, h };
  }

  add(win: DeskWindow, role: Role): void {
    this.windows.push({ win, role });
    this.raise(win);
    this.relayout();
  }

  remove(win: DeskWindow): void {
    const i = this.windows.findIndex((x) => x.win === win);
    if (i >= 0) this.windows.splice(i, 1);
    this.relayout();
  }

  setHidden(win: DeskWindow, hidden: boolean): void {
    win.hidden = hidden;
    if (!hidden) this.raise(win);
    this.relayout();
  }

  raise(win: DeskWindow): void {
    win.el.style.zIndex = String(++this.z);
  }

  /** The user moved a window: leave the tiling alone until asked again. */
  float(): void {
    if (this.modeNow === 'float') return;
    this.modeNow = 'float';
    this.onChange();
  }

  /** Tiles every visible window now, and keeps doing so on every change until the user moves one. */
  tile(): void {
    const visible = this.windows.filter((x) => !x.win.hidden);
    const main = visible.filter((x) => x.role === 'main');
    const side = visible.filter((x) => x.role === 'side');
    const rects = tileRects(this.desk.clientWidth, this.desk.clientHeight, main.length, side.length);
    main.forEach((x, i) => x.win.place(rects.main[i].x, rects.main[i].y, rects.main[i].w, rects.main[i].h));
    side.forEach((x, i) => x.win.place(rects.side[i].x, rects.side[i].y, rects.side[i].w, rects.side[i].h));
    if (this.modeNow !== 'tiled') {
      this.modeNow = 'tiled';
      this.onChange();
    }
  }

  /** After a change (a window opened or closed, the browser resized): tile again, or keep floating windows reachable. */
  relayout(): void {
    if (this.modeNow === 'tiled') this.tile();
    else for (const x of this.windows) x.win.keepReachable();
    this.onChange();
  }
}
