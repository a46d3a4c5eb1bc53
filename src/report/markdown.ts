/**
 * The small markdown of report text: paragraphs, `-`/`*` and `1.` lists, fenced code blocks,
 * inline `code`, **bold** and [links](target). Everything else is text, escaped, so that a
 * reason or a file name from a trace can never inject markup into a report.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` safe inside HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Link targets that navigate somewhere harmless: relative paths, anchors, file, http(s). */
function safeTarget(target: string): boolean {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(target)?.[1]?.toLowerCase();
  return scheme === undefined || ['http', 'https', 'file'].includes(scheme);
}

/** Escapes plain text, then turns [text](target) and **bold** into markup. */
function inlineText(text: string): string {
  return escapeHtml(text)
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (whole, label: string, target: string) =>
      safeTarget(target) ? `<a href="${target}">${label}</a>` : whole)
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

/** One line of inline markdown as HTML. */
export function inlineMarkdown(text: string): string {
  return text
    .split(/(`[^`]+`)/)
    .map((part) => (/^`[^`]+`$/.test(part) ? `<code>${escapeHtml(part.slice(1, -1))}</code>` : inlineText(part)))
    .join('');
}

type Block = { kind: 'p'; lines: string[] } | { kind: 'ul' | 'ol'; items: string[] } | { kind: 'code'; lines: string[] };

const BULLET = /^\s*[-*]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

/** Splits text into paragraphs, lists and code blocks. */
function blocks(text: string): Block[] {
  const out: Block[] = [];
  let code: string[] | null = null;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (code !== null) {
      if (/^\s*```/.test(line)) code = null;
      else code.push(line);
      continue;
    }
    const last = out.at(-1);
    const item = BULLET.exec(line) ?? NUMBERED.exec(line);
    if (/^\s*```/.test(line)) out.push({ kind: 'code', lines: (code = []) });
    else if (line.trim() === '') out.push({ kind: 'p', lines: [] });
    else if (item) {
      const kind = BULLET.test(line) ? 'ul' : 'ol';
      if (last?.kind === kind) last.items.push(item[1]!);
      else out.push({ kind, items: [item[1]!] });
    } else if ((last?.kind === 'ul' || last?.kind === 'ol') && /^\s+\S/.test(line)) {
      last.items[last.items.length - 1] += ` ${line.trim()}`; // an indented continuation of an item
    } else if (last?.kind === 'p') last.lines.push(line.trim());
    else out.push({ kind: 'p', lines: [line.trim()] });
  }
  return out.filter((b) => b.kind === 'code' || (b.kind === 'p' ? b.lines.length > 0 : b.items.length > 0));
}

/** Text in the small markdown above, as HTML. */
export function markdown(text: string): string {
  return blocks(text)
    .map((b) => {
      if (b.kind === 'code') return `<pre><code>${escapeHtml(b.lines.join('\n'))}</code></pre>`;
      if (b.kind === 'p') return `<p>${inlineMarkdown(b.lines.join(' '))}</p>`;
      return `<${b.kind}>${b.items.map((i) => `<li>${inlineMarkdown(i)}</li>`).join('')}</${b.kind}>`;
    })
    .join('\n');
}
