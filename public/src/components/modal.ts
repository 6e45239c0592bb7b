import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { html } from '../html.js';

/** A native modal <dialog>: focus stays inside, Escape closes, the page behind is inert. */
export function Modal({ title, onClose, children, className = '' }: { title: string; onClose: () => void; children: ComponentChildren; className?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const dlg = ref.current!;
    const back = document.activeElement as HTMLElement | null;
    if (!dlg.open) dlg.showModal();
    const onCloseEvent = () => closeRef.current();
    dlg.addEventListener('close', onCloseEvent);
    return () => {
      dlg.removeEventListener('close', onCloseEvent);
      if (dlg.open) dlg.close();
      back?.focus?.();
    };
  }, []);
  return html`<dialog ref=${ref} class=${`modal ${className}`} aria-labelledby="modal-title">
    <div class="modal-head">
      <h2 id="modal-title">${title}</h2>
      <button type="button" class="close" aria-label="Close" onClick=${() => ref.current?.close()}>×</button>
    </div>
    ${children}
  </dialog>`;
}
