/**
 * The font PNG plots are drawn with. resvg draws text only with fonts it has loaded, and draws
 * nothing (silently) for text it has no font for; with exactly one font file loaded it uses that
 * font for every family. So gradcond loads one known font file instead of scanning every system
 * font (slow, and silent when it finds none): the file given with `--font` or `GRADCOND_FONT`,
 * else the first present of DejaVu Sans and Liberation Sans (Linux) or Arial (macOS, Windows).
 * No font at all is a UsageError, never a PNG without its text. SVG and HTML output name a font
 * stack (FONT_STACK) and let the viewer choose.
 */
import * as fs from 'node:fs';
import { UsageError } from '../errors.js';

/** The font stack plots name; the viewer uses the first it has. */
export const FONT_STACK = '"DejaVu Sans", "Liberation Sans", "Helvetica Neue", Arial, sans-serif';

const KNOWN_FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
  '/Library/Fonts/Arial.ttf',
  'C:\\Windows\\Fonts\\arial.ttf',
];

/** The font file for PNG text: `file` (or GRADCOND_FONT) when given, else the first known font present. */
export function pngFontFile(file?: string): string {
  const given = file ?? process.env.GRADCOND_FONT;
  if (given !== undefined && given !== '') {
    if (!fs.existsSync(given)) throw new UsageError(`font file not found: ${given}`);
    return given;
  }
  const found = KNOWN_FONTS.find((f) => fs.existsSync(f));
  if (found === undefined) {
    throw new UsageError('no font found to draw PNG text (looked for DejaVu Sans, Liberation Sans, Arial): give one with --font FILE.ttf, or write SVG with --format svg');
  }
  return found;
}
