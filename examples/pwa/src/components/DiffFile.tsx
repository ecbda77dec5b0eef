import { useMemo, useState } from 'preact/hooks';
import { escapeHtml, highlightLine, languageFor } from '../diff/highlight.js';
import { type DiffLine, type FileSlice, parseFile } from '../diff/parse.js';

/** Diff lines rendered per page inside one file. */
const LINES_PAGE = 400;

const SIGN: Record<DiffLine['kind'], string> = { add: '+', del: '-', ctx: ' ', note: '' };

/** One file of a diff: collapsible; parsed, coloured and rendered only while open, a page of lines at a time. */
export function DiffFile({ file, initiallyOpen }: { file: FileSlice; initiallyOpen: boolean }) {
  const [open, setOpen] = useState(initiallyOpen);
  return (
    <details class="diff-file" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary class="diff-file-name mono">{file.path}</summary>
      {open && <FileBody file={file} />}
    </details>
  );
}

function FileBody({ file }: { file: FileSlice }) {
  const parsed = useMemo(() => parseFile(file.text), [file]);
  const language = languageFor(file.path);
  const [limit, setLimit] = useState(LINES_PAGE);
  let budget = limit;
  let hidden = 0;
  const hunks = parsed.hunks.map((h) => {
    const lines = h.lines.slice(0, Math.max(0, budget));
    hidden += h.lines.length - lines.length;
    budget -= lines.length;
    return { header: h.header, lines, skipped: lines.length === 0 && h.lines.length > 0 };
  });
  return (
    <div class="diff-body">
      <p class="small diff-stats">
        <span class="add-count">+{parsed.added}</span> <span class="del-count">-{parsed.removed}</span>
        {parsed.meta
          .filter((m) => /^(new|deleted) file|^rename|^Binary/.test(m))
          .map((m) => (
            <span key={m}> · {m}</span>
          ))}
      </p>
      <section class="diff-lines mono" aria-label={`Changes in ${file.path}`}>
        {hunks.map((h, i) =>
          h.skipped ? null : (
            <div key={i}>
              <div class="hunk-header">{h.header}</div>
              {h.lines.map((l, j) => (
                <div key={j} class={`dl ${l.kind}`}>
                  <span class="ln">{l.oldNo ?? ''}</span>
                  <span class="ln">{l.newNo ?? ''}</span>
                  <span class="sign">{SIGN[l.kind]}</span>
                  <code
                    class="hljs"
                    dangerouslySetInnerHTML={{
                      __html: l.kind === 'note' ? escapeHtml(l.text) : highlightLine(l.text, language),
                    }}
                  />
                </div>
              ))}
            </div>
          ),
        )}
      </section>
      {hidden > 0 && (
        <button type="button" class="secondary" onClick={() => setLimit((n) => n + LINES_PAGE)}>
          Show {Math.min(hidden, LINES_PAGE)} more lines ({hidden} left)
        </button>
      )}
    </div>
  );
}
