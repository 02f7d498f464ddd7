/**
 * Printable PDF documents of the e-Referral Service (the patient letter a019, the clinical
 * information summary a007), drawn with pdf-lib: a title, then sections of wrapped text, on as many
 * A4 pages as they need. Text is set in the standard Helvetica fonts, which encode WinAnsi only, so
 * any other character is shown as '?' rather than failing the letter.
 */
import type { Patient } from 'fhir/r4.js';
import { PDFDocument, StandardFonts, type PDFFont, type PDFPage } from 'pdf-lib';
import { releaseForPatient } from '../../security/location-release.js';

export interface PdfSection {
  heading?: string;
  /** Label and value pairs, or plain lines (label omitted). */
  lines: { label?: string; value: string; emphasis?: boolean }[];
}

export interface PdfDocumentSpec {
  title: string;
  /** Document metadata (the PDF's Title and Subject); keep secrets out of it. */
  subject: string;
  sections: PdfSection[];
  created: Date;
}

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 56;
const SIZE = 11;
const LEADING = 15;

/** WinAnsi-safe text: printable Latin-1, anything else as '?'. */
const printable = (s: string): string => s.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');

/**
 * The document as it may be printed about `patient` (their current PDS record): a restricted
 * patient's location values (their GP practice, say, when it is the referrer) are withheld, by the
 * platform's one rule (security/location-release.ts), since no HTTP hook can read a PDF.
 */
export function releasedFor(spec: PdfDocumentSpec, patient: Patient | undefined): PdfDocumentSpec {
  const { created, ...text } = spec;
  return { ...releaseForPatient(text, patient), created };
}

export async function renderPdf(spec: PdfDocumentSpec): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.setTitle(printable(spec.title));
  doc.setSubject(printable(spec.subject));
  doc.setProducer('OpenSpine e-Referral Service');
  doc.setCreationDate(spec.created);
  doc.setModificationDate(spec.created);
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const width = A4[0] - 2 * MARGIN;
  let page: PDFPage = doc.addPage(A4);
  let y = A4[1] - MARGIN;

  const line = (text: string, font: PDFFont, size = SIZE, indent = 0) => {
    for (const part of wrap(printable(text), font, size, width - indent)) {
      if (y < MARGIN + LEADING) {
        page = doc.addPage(A4);
        y = A4[1] - MARGIN;
      }
      page.drawText(part, { x: MARGIN + indent, y, size, font });
      y -= size === SIZE ? LEADING : size + 6;
    }
  };

  line(spec.title, bold, 16);
  y -= 6;
  for (const section of spec.sections) {
    y -= 8;
    if (section.heading) line(section.heading, bold, 13);
    for (const l of section.lines) {
      const font = l.emphasis ? bold : regular;
      line(l.label ? `${l.label}: ${l.value}` : l.value, font, l.emphasis ? 14 : SIZE);
    }
  }
  return Buffer.from(await doc.save());
}

/** The text broken into lines no wider than `max` points (a word longer than a line is cut). */
function wrap(text: string, font: PDFFont, size: number, max: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = current ? `${current} ${word}` : word;
    if (font.widthOfTextAtSize(candidate, size) <= max) {
      current = candidate;
      continue;
    }
    if (current) lines.push(current);
    let rest = word;
    while (font.widthOfTextAtSize(rest, size) > max) {
      let cut = rest.length - 1;
      while (cut > 1 && font.widthOfTextAtSize(rest.slice(0, cut), size) > max) cut--;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    current = rest;
  }
  if (current || lines.length === 0) lines.push(current);
  return lines;
}

/** yyyyMMddHHmmss (UTC), as the published file names carry it (..._20210603121353.pdf). */
export const fileStamp = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
