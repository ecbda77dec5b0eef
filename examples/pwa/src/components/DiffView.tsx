import { useEffect, useMemo, useState } from 'preact/hooks';
import { splitFiles } from '../diff/parse.js';
import { useModel } from '../hooks.js';
import type { DiffMeta } from '../view-state.js';
import { DiffFile } from './DiffFile.js';

/** Files rendered per page: a multi-MB diff shows its first files at once and the rest on request. */
const FILES_PAGE = 8;
/** Files open from the start; the others parse and render only when opened. */
const OPEN_FIRST = 3;
/** A decided diff larger than this starts collapsed: its text is not even read until asked for. */
const COLLAPSE_DECIDED_BYTES = 256 * 1024;

/** One diff: summary, the decision (approve / reject) when it awaits one, and the files, paged. */
export function DiffView({ meta }: { meta: DiffMeta }) {
  const model = useModel();
  const [body, setBody] = useState<string | null | undefined>(undefined);
  const [shown, setShown] = useState(FILES_PAGE);
  const [expanded, setExpanded] = useState(meta.approval === 'pending' || meta.bytes <= COLLAPSE_DECIDED_BYTES);

  // Read again when `stored` turns false (the budget evicted the body): the diff then shows "not stored".
  useEffect(() => {
    if (!expanded) return;
    let live = true;
    model
      .diffBody(meta.diffId)
      .then((b) => {
        if (live) setBody(b ?? null);
      })
      .catch((err: unknown) => {
        if (live) setBody(null);
        model.fail(err);
      });
    return () => {
      live = false;
    };
  }, [model, meta.diffId, meta.receivedAt, meta.stored, expanded]);

  const files = useMemo(() => (typeof body === 'string' ? splitFiles(body) : []), [body]);
  const deciding = model.deciding.has(meta.diffId);
  const headingId = `diff-title-${meta.diffId}`;

  return (
    <article
      class="diff"
      data-testid="diff"
      data-diff-id={meta.diffId}
      data-bytes={meta.bytes}
      data-files={meta.files}
      aria-labelledby={headingId}
    >
      <header class="diff-header">
        <h4 id={headingId}>{meta.title}</h4>
        <p class="small">
          {meta.files} file{meta.files === 1 ? '' : 's'}, {formatBytes(meta.bytes)}
        </p>
        {meta.approval !== 'none' && (
          <p class={`approval approval-${meta.approval.split(':')[0]}`}>
            <span class="visually-hidden">Decision: </span>
            <span data-testid="approval-status">{meta.approval}</span>
          </p>
        )}
        {meta.approval === 'pending' && (
          <div class="row decision">
            <button
              type="button"
              class="approve"
              data-testid="approve"
              aria-describedby={headingId}
              disabled={deciding}
              onClick={() => void model.decide(meta.diffId, 'approve')}
            >
              Approve
            </button>
            <button
              type="button"
              class="danger"
              data-testid="reject"
              aria-describedby={headingId}
              disabled={deciding}
              onClick={() => void model.decide(meta.diffId, 'reject')}
            >
              Reject
            </button>
          </div>
        )}
      </header>
      {!expanded && (
        <button type="button" class="secondary" onClick={() => setExpanded(true)}>
          Show the diff
        </button>
      )}
      {expanded && body === undefined && <p class="hint">Loading the diff…</p>}
      {body === null && <p class="hint">The diff text is not stored on this device.</p>}
      {files.slice(0, shown).map((f, i) => (
        <DiffFile key={`${i}:${f.path}`} file={f} initiallyOpen={i < OPEN_FIRST} />
      ))}
      {files.length > shown && (
        <button type="button" class="secondary" onClick={() => setShown((n) => n + FILES_PAGE)}>
          Show more files ({files.length - shown} left)
        </button>
      )}
    </article>
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
