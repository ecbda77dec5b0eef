import { useEffect, useRef, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';

/** Both sides of the conversation with the workstation. */
export function Chat() {
  const model = useModel();
  const [text, setText] = useState('');
  const log = useRef<HTMLOListElement>(null);
  const count = model.view.chat.length;

  useEffect(() => {
    const el = log.current;
    if (el !== null && count > 0) el.scrollTop = el.scrollHeight;
  }, [count]);

  return (
    <section aria-labelledby="chat-title" class="chat">
      <h2 id="chat-title">Chat</h2>
      <ol class="chat-log" data-testid="chat-log" role="log" aria-live="polite" ref={log}>
        {model.view.chat.map((c) => (
          <li key={c.id} class={`chat-message from-${c.from}`} data-testid="chat-message" data-from={c.from}>
            <span class="visually-hidden">{c.from === 'pwa' ? 'You' : 'Workstation'}: </span>
            {c.text}
          </li>
        ))}
      </ol>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const t = text.trim();
          if (t === '') return;
          setText('');
          void model.sendChat(t);
        }}
      >
        <label for="chat-input" class="visually-hidden">
          Message to the workstation
        </label>
        <input
          id="chat-input"
          data-testid="chat-input"
          type="text"
          autoComplete="off"
          placeholder="Ask the workstation…"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" data-testid="chat-send" disabled={text.trim() === ''}>
          Send
        </button>
      </form>
    </section>
  );
}
