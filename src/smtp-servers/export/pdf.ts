import PDFDocument from 'pdfkit';
import { formatDateTime } from '../../i18n/index.js';
import { columnLabelKey } from '../columns.js';
import { cellText, type ExportColumnSpec } from './columns.js';
import { breathe, ExportAborted } from './flow.js';
import { fontData } from './fonts.js';
import type { ExportJob, ExportResult } from './types.js';

// A4 landscape, in points.
const margin = { top: 30, right: 28, bottom: 40, left: 28 };
const fontSize = 7.5;
const headingSize = 14;
const metaSize = 8.5;
const pad = { x: 3, y: 2.5 };
const colors = { ink: '#1d2330', muted: '#5b6475', headerFill: '#e4e8ef', stripe: '#f4f6f9', rule: '#9aa3b2' };

interface Column {
  spec: ExportColumnSpec;
  x: number;
  width: number;
}

interface FontkitGlyph {
  id: number;
  advanceWidth: number;
  codePoints: number[];
}

interface EmbeddedFontInternals {
  layout?: unknown;
  encode?: unknown;
  scale?: number;
  font?: { glyphForCodePoint?: (codePoint: number) => FontkitGlyph };
}

/**
 * pdfkit lays every word out with fontkit's OpenType engine (GSUB/GPOS lookups for ligatures, kerning, marks) and
 * caches each word forever: at 10,000 rows that was 20 s and 450 MB. A table of names and addresses needs none of it,
 * so this font maps each character to its glyph and advance (cached per character). Applied to this document's fonts
 * only; if pdfkit's internals ever change shape, the default layout stays (slower, same text).
 */
function useUnshapedLayout(font: unknown): ((text: string) => number) | null {
  const internals = font as EmbeddedFontInternals;
  const fontkit = internals.font;
  const scale = internals.scale;
  if (typeof internals.layout !== 'function' || typeof fontkit?.glyphForCodePoint !== 'function' || typeof scale !== 'number') return null;
  const glyphFor = fontkit.glyphForCodePoint.bind(fontkit);
  const glyphs = new Map<number, FontkitGlyph>();
  internals.layout = (text: string, _features?: unknown, onlyWidth?: boolean) => {
    const run: FontkitGlyph[] = [];
    const positions: { xAdvance: number; yAdvance: number; xOffset: number; yOffset: number; advanceWidth: number }[] = [];
    let advanceWidth = 0;
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      let glyph = glyphs.get(codePoint);
      if (!glyph) {
        glyph = glyphFor(codePoint);
        glyphs.set(codePoint, glyph);
      }
      const advance = glyph.advanceWidth * scale;
      advanceWidth += advance;
      if (!onlyWidth) {
        run.push(glyph);
        positions.push({ xAdvance: advance, yAdvance: 0, xOffset: 0, yOffset: 0, advanceWidth: advance });
      }
    }
    return { glyphs: onlyWidth ? null : run, positions: onlyWidth ? null : positions, advanceWidth };
  };
  // Advances of the characters met so far, by UTF-16 code unit (NaN: not yet looked up).
  const advances = new Float64Array(0x10000).fill(Number.NaN);
  /** The text's width in thousandths of the font size. */
  const measure = (text: string) => {
    let width = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let advance = advances[code]!;
      if (Number.isNaN(advance)) {
        // An astral character is measured on its first half; its second half counts for nothing.
        const codePoint = text.codePointAt(i)!;
        advance = code >= 0xdc00 && code <= 0xdfff ? 0 : glyphFor(codePoint).advanceWidth * scale;
        if (codePoint > 0xffff) {
          width += advance;
          continue;
        }
        advances[code] = advance;
      }
      width += advance;
    }
    return width;
  };
  // With one glyph per character, a text's encoding is its characters' encodings: pdfkit's encode (which also
  // records the glyph in the embedded subset) runs once per distinct character.
  if (typeof internals.encode !== 'function') return measure;
  const encodeOne = (internals.encode as (text: string, features?: unknown) => [string[], unknown[]]).bind(font);
  const encoded = new Map<number, [string, unknown]>();
  internals.encode = (text: string, features?: unknown) => {
    const hex: string[] = [];
    const positions: unknown[] = [];
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      let one = encoded.get(codePoint);
      if (!one) {
        const [h, p] = encodeOne(char, features);
        one = [h[0]!, p[0]];
        encoded.set(codePoint, one);
      }
      hex.push(one[0]);
      positions.push(one[1]);
    }
    return [hex, positions];
  };
  return measure;
}

interface PlacedText {
  text: string;
  x: number;
  /** Top of the line, in pdfkit's top-down coordinates. */
  y: number;
}

interface TextInternals {
  _font?: { id?: unknown; ascender?: unknown; ref?: unknown; encode?: unknown };
  _fontSize?: unknown;
  page?: { height?: unknown; fonts?: unknown };
  addContent?: unknown;
}

const pdfNumber = (n: number) => (Math.round(n * 100) / 100).toString();

/**
 * Writes many short texts in the current font, size and colour as one PDF text object. doc.text() wraps each in its
 * own save/transform/BT/ET with a dozen option checks: at 150,000 table cells that alone took seconds. Returns null
 * when pdfkit's internals are not the expected shape; the caller then uses doc.text().
 */
function textObjectWriter(doc: PDFKit.PDFDocument): ((items: readonly PlacedText[]) => void) | null {
  const d = doc as unknown as TextInternals;
  const font = d._font;
  if (!font || typeof font.encode !== 'function' || typeof font.ref !== 'function' || typeof d.addContent !== 'function') return null;
  return (items) => {
    const current = d._font as { id: string; ascender: number; ref(): unknown; encode(text: string): [string[], unknown] };
    const size = d._fontSize as number;
    const page = d.page as { height: number; fonts: Record<string, unknown> };
    if (page.fonts[current.id] == null) page.fonts[current.id] = current.ref();
    const ascent = (current.ascender / 1000) * size;
    // pdfkit draws top-down; text objects are written in PDF's bottom-up space, as doc.text() does.
    let ops = `q 1 0 0 -1 0 ${pdfNumber(page.height)} cm BT /${current.id} ${pdfNumber(size)} Tf`;
    for (const item of items) {
      if (!item.text) continue;
      const [glyphs] = current.encode(item.text);
      ops += `\n1 0 0 1 ${pdfNumber(item.x)} ${pdfNumber(page.height - item.y - ascent)} Tm <${glyphs.join('')}> Tj`;
    }
    (d.addContent as (ops: string) => void).call(doc, `${ops}\nET Q`);
  };
}

/**
 * Breaks a text into lines no wider than `width`: at spaces, after - / @ . _ , and inside a word only when the word
 * alone is wider than the line. Nothing is ever cut. (pdfkit's own wrapper runs the Unicode line-breaking algorithm
 * on every cell: most of the PDF's time at 10,000 rows.)
 */
export function wrapText(text: string, width: number, widthOf: (text: string) => number): string[] {
  if (widthOf(text) <= width && !/[\r\n]/.test(text)) return [text];
  const lines: string[] = [];
  for (const paragraph of text.split(/\r\n|\r|\n/)) {
    if (widthOf(paragraph) <= width) {
      lines.push(paragraph);
      continue;
    }
    let line = '';
    for (const piece of paragraph.split(/(?<=[\s\-/@._,])/)) {
      const candidate = line + piece;
      if (widthOf(candidate.trimEnd()) <= width) {
        line = candidate;
        continue;
      }
      if (line.trim()) lines.push(line.trimEnd());
      line = '';
      if (widthOf(piece.trimEnd()) <= width) {
        line = piece;
        continue;
      }
      // A piece wider than a whole line is split where it must.
      for (const char of piece) {
        if (line && widthOf((line + char).trimEnd()) > width) {
          lines.push(line);
          line = '';
        }
        line += char;
      }
    }
    if (line.trimEnd()) lines.push(line.trimEnd());
  }
  return lines.length ? lines : [''];
}

/**
 * A4 landscape PDF: title, export date, the active search and sort, then a table whose header row repeats
 * on every page, long values wrapped (never cut) and "page 3 / 12" at the foot of each page.
 *
 * Pages are flushed as soon as they are full, so memory does not grow with the row count. The page total
 * is known before the first page is written: a first pass over the rows lays them out without drawing.
 */
export async function writePdf(job: ExportJob): Promise<ExportResult> {
  const { columns: specs, out, signal, meta, context } = job;
  const { t, locale } = context;
  const doc = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    margins: margin,
    autoFirstPage: false,
    bufferPages: false,
    fontLayoutCache: false,
    compress: true,
    lang: locale,
    displayTitle: true,
    info: { Title: meta.title, Author: 'Relais', Creator: 'Relais', CreationDate: meta.exportedAt },
  });
  doc.registerFont('regular', fontData('regular'));
  doc.registerFont('bold', fontData('bold'));
  doc.pipe(out);
  doc.addPage();

  const measures = new Map<string, (text: string) => number>();
  for (const name of ['bold', 'regular']) {
    doc.font(name);
    const measure = useUnshapedLayout((doc as unknown as { _font: unknown })._font);
    if (measure) measures.set(name, measure);
  }
  /** Widths at the table's font size, in the given font (or, failing our measure, the current one). */
  const widthIn = (name: 'regular' | 'bold') => {
    const measure = measures.get(name);
    return measure ? (text: string) => (measure(text) * fontSize) / 1000 : (text: string) => doc.widthOfString(text);
  };

  const pageWidth = doc.page.width;
  const pageHeight = doc.page.height;
  const tableWidth = pageWidth - margin.left - margin.right;
  const bottom = pageHeight - margin.bottom;
  const totalWeight = specs.reduce((sum, c) => sum + c.weight, 0);
  let x = margin.left;
  const columns: Column[] = specs.map((spec) => {
    const width = (tableWidth * spec.weight) / totalWeight;
    const column = { spec, x, width };
    x += width;
    return column;
  });

  doc.font('regular').fontSize(fontSize);
  const lineHeight = doc.currentLineHeight(true);

  const bodyWidth = widthIn('regular');
  const headerWidth = widthIn('bold');

  /** A cell's lines: the whole value, wrapped to the column (see wrapText). */
  function cellLines(cells: readonly string[], widthOf: (text: string) => number): string[][] {
    return cells.map((text, i) => wrapText(text, columns[i]!.width - 2 * pad.x, widthOf));
  }

  function rowHeight(lines: readonly string[][]): number {
    let most = 1;
    for (const cell of lines) if (cell.length > most) most = cell.length;
    return most * lineHeight + 2 * pad.y;
  }

  const writeTexts = textObjectWriter(doc);

  function drawCells(lines: readonly string[][], top: number, widthOf: (text: string) => number) {
    const placed: PlacedText[] = [];
    lines.forEach((cell, i) => {
      const column = columns[i]!;
      cell.forEach((line, n) => {
        if (!line) return;
        const left = column.spec.numeric ? column.x + column.width - pad.x - widthOf(line) : column.x + pad.x;
        placed.push({ text: line, x: left, y: top + pad.y + n * lineHeight });
      });
    });
    if (writeTexts) writeTexts(placed);
    else for (const item of placed) doc.text(item.text, item.x, item.y, { lineBreak: false });
  }

  doc.font('bold').fontSize(fontSize);
  const labels = cellLines(columns.map((c) => c.spec.label), headerWidth);
  const headerHeight = rowHeight(labels);
  doc.font('regular').fontSize(fontSize);

  function drawHeader(top: number) {
    doc.save().rect(margin.left, top, tableWidth, headerHeight).fill(colors.headerFill).restore();
    doc.font('bold').fontSize(fontSize).fillColor(colors.ink);
    drawCells(labels, top, headerWidth);
    doc
      .save()
      .moveTo(margin.left, top + headerHeight)
      .lineTo(margin.left + tableWidth, top + headerHeight)
      .lineWidth(0.6)
      .strokeColor(colors.rule)
      .stroke()
      .restore();
    doc.font('regular').fontSize(fontSize);
  }

  function drawFooter(page: number, pages: number) {
    const footerY = pageHeight - margin.bottom + 14;
    doc.font('regular').fontSize(7).fillColor(colors.muted);
    const left = `${meta.title} — ${t('export.exportedAt', { at: formatDateTime(locale, meta.exportedAt) })}`;
    doc.text(left, margin.left, footerY, { lineBreak: false });
    const label = t('export.pageOf', { page, pages: Math.max(pages, page) });
    doc.text(label, pageWidth - margin.right - doc.widthOfString(label), footerY, { lineBreak: false });
    doc.fillColor(colors.ink).fontSize(fontSize);
  }

  const countText = (rows: number) =>
    rows === 0 ? t('export.countZero') : rows === 1 ? t('export.countOne') : t('export.count', { count: rows.toLocaleString(locale === 'fr' ? 'fr-FR' : 'en-GB') });

  /** The lines under the title: when, how many, which search and sort. */
  function headingLines(rows: number): string[] {
    const sortLabel = t(columnLabelKey(meta.sort));
    return [
      `${t('export.exportedAt', { at: formatDateTime(locale, meta.exportedAt) })} · ${countText(rows)}`,
      meta.q ? t('export.search', { q: meta.q }) : t('export.noSearch'),
      t('export.sortedBy', { column: sortLabel, direction: t(meta.dir === 'desc' ? 'export.sort.desc' : 'export.sort.asc') }),
    ];
  }

  /** Draws (or only measures) the block above the table; returns its height. Both passes get the same height. */
  function heading(rows: number, draw: boolean): number {
    let y = margin.top;
    doc.font('bold').fontSize(headingSize).fillColor(colors.ink);
    const titleHeight = doc.heightOfString(meta.title, { width: tableWidth });
    if (draw) doc.text(meta.title, margin.left, y, { width: tableWidth, height: titleHeight + 1 });
    y += titleHeight + 4;
    doc.font('regular').fontSize(metaSize).fillColor(colors.muted);
    headingLines(rows).forEach((line, i) => {
      // The first line holds the row count, unknown to the first pass: it is short and always one line.
      const height = i === 0 ? doc.currentLineHeight(true) : doc.heightOfString(line, { width: tableWidth });
      if (draw) doc.text(line, margin.left, y, { width: tableWidth, height: height + 1 });
      y += height + 1;
    });
    doc.fillColor(colors.ink).font('regular').fontSize(fontSize);
    return y + 8 - margin.top;
  }

  /**
   * Lays every row out page by page. Without `draw` it only counts (the first pass);
   * with it, it writes each page and flushes it before starting the next.
   */
  async function layOut(draw: { pages: number; rows: number } | null): Promise<{ pages: number; rows: number }> {
    let page = 1;
    let count = 0;
    const headingRows = draw ? draw.rows : 0;
    let y = margin.top + heading(headingRows, Boolean(draw));
    if (draw) {
      drawFooter(page, draw.pages);
      drawHeader(y);
    }
    y += headerHeight;
    for await (const batch of job.batches()) {
      for (const server of batch) {
        const lines = cellLines(specs.map((spec) => cellText(spec.value(server))), bodyWidth);
        const height = rowHeight(lines);
        if (y + height > bottom && count > 0) {
          page++;
          y = margin.top;
          if (draw) {
            doc.addPage();
            drawFooter(page, draw.pages);
            drawHeader(y);
          }
          y += headerHeight;
        }
        if (draw) {
          if (count % 2 === 1) doc.save().rect(margin.left, y, tableWidth, height).fill(colors.stripe).restore();
          doc.fillColor(colors.ink);
          drawCells(lines, y, bodyWidth);
        }
        y += height;
        count++;
      }
      if (draw) job.progress.rows = count;
      await breathe(out, signal);
    }
    if (draw && count === 0) {
      doc.font('regular').fontSize(metaSize).fillColor(colors.muted);
      doc.text(meta.q ? t('servers.noMatch', { q: meta.q }) : t('servers.empty'), margin.left, y + 8, { width: tableWidth });
    }
    return { pages: page, rows: count };
  }

  try {
    const counted = await layOut(null);
    const drawn = await layOut(counted);
    if (signal.aborted || out.destroyed) throw new ExportAborted();
    doc.end();
    return { rows: drawn.rows };
  } catch (err) {
    doc.unpipe(out);
    throw err;
  }
}
