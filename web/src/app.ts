// What every page shares: the signed-in client, who the token belongs to, and the data polled
// from the API (instances and controller health every 2 s, history every 15 s).
import type { ApiClient } from './api.js';
import type { ControllerHealth, HistoryJson, InstanceJson, WhoAmIJson } from './types.js';

export interface AppState {
  instances: InstanceJson[];
  health: ControllerHealth | null;
  history: HistoryJson | null;
  /** When the instance list was last read successfully. */
  updatedAt: number | null;
  /** The last polling failure (shown in the header), null while polling works. */
  error: string | null;
}

export interface App {
  api: ApiClient;
  who: WhoAmIJson;
  state: AppState;
  /** Re-reads instances and health now (after an action) and updates the page. */
  refresh(): Promise<void>;
  refreshHistory(): Promise<void>;
  /** Shows a message in the page's status line (action results, errors). */
  notify(text: string, kind?: 'ok' | 'error'): void;
}

export interface View {
  el: HTMLElement;
  /** Called after every poll with fresh state. */
  update?(state: AppState): void;
  destroy?(): void;
}
