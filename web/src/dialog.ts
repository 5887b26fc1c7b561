// Every action asks first, in a modal <dialog> (Escape cancels, focus stays inside), then shows
// what the API answered in the same place.
import { h, replace, visible, type Child } from './dom.js';

export interface ActionDialog {
  title: string;
  /** What will happen, and any inputs. */
  body: Child[];
  confirm: string;
  danger?: boolean;
  /** Runs the action; the returned text (or node) is shown as the result. Throwing shows the error. */
  run: () => Promise<Child>;
  /** Called after a successful run (e.g. refresh the table). */
  done?: () => void;
}

export function openDialog(d: ActionDialog): HTMLDialogElement {
  const result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const confirmBtn = h('button', { type: 'submit', class: d.danger ? 'danger' : 'primary' }, d.confirm);
  const cancelBtn = h('button', { type: 'button' }, 'Cancel');
  const form = h('form', { class: 'dialog-form' }, h('h2', null, d.title), ...d.body, result, h('div', { class: 'buttons' }, cancelBtn, confirmBtn));
  const dialog = h('dialog', { 'aria-label': d.title }, form);
  let finished = false;
  const close = () => {
    dialog.close();
  };
  let running = false;
  dialog.addEventListener('close', () => dialog.remove());
  // Escape while the action runs would hide its result; it stays until the answer is in.
  dialog.addEventListener('cancel', (ev) => {
    if (running) ev.preventDefault();
  });
  cancelBtn.addEventListener('click', close);
  form.addEventListener('submit', (ev) => {
    // Never a real submission (and the CSP's form-action 'none' would refuse one).
    ev.preventDefault();
    if (finished) return close();
    running = true;
    confirmBtn.disabled = true;
    cancelBtn.disabled = true;
    replace(result, h('span', { class: 'muted' }, 'working…'));
    d.run().then(
      (out) => {
        running = false;
        finished = true;
        replace(result, h('div', { class: 'ok' }, typeof out === 'string' ? visible(out) : out));
        confirmBtn.textContent = 'Close';
        confirmBtn.className = 'primary';
        confirmBtn.disabled = false;
        cancelBtn.hidden = true;
        confirmBtn.focus();
        d.done?.();
      },
      (err: Error) => {
        running = false;
        replace(result, h('div', { class: 'error' }, visible(err.message)));
        confirmBtn.disabled = false;
        cancelBtn.disabled = false;
      },
    );
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = form.querySelector<HTMLElement>('input, select, textarea');
  (first ?? confirmBtn).focus();
  return dialog;
}

/** A labelled input row for dialogs and forms. */
export function field(label: string, control: HTMLElement): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', null, label), control);
}
