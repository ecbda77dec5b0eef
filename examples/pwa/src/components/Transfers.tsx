import { useModel } from '../hooks.js';

/** Progress bars for large incoming messages (a diff arriving in chunks). */
export function Transfers() {
  const model = useModel();
  const list = [...model.transfers.values()];
  if (list.length === 0) return null;
  return (
    <section aria-label="Incoming transfers" class="stack">
      {list.map((t) => (
        <div key={t.id} class="transfer" data-testid="transfer" data-done={t.done} data-total={t.total}>
          <label class="small" for={`transfer-${t.id}`}>
            Receiving a diff: {t.done} of {t.total} parts
          </label>
          <progress id={`transfer-${t.id}`} max={Math.max(t.total, 1)} value={t.done} />
        </div>
      ))}
    </section>
  );
}
