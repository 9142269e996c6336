import { html } from "../lib.js";

/** A modal asking to confirm an action that changes the cluster. */
export function Confirm({ title, children, onConfirm, onCancel }) {
  return html`
    <div class="modal-backdrop" onClick=${(e) => e.target === e.currentTarget && onCancel()}>
      <div class="modal card" role="dialog" aria-modal="true" data-testid="confirm">
        <h3>${title}</h3>
        <div>${children}</div>
        <div class="row end">
          <button class="ghost" onClick=${onCancel} data-testid="confirm-cancel">Cancel</button>
          <button class="danger" onClick=${onConfirm} data-testid="confirm-ok">Confirm</button>
        </div>
      </div>
    </div>
  `;
}
