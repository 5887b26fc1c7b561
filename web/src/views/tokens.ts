// Tokens (admin): list, create a tenant token (its secret shown once), revoke.
import type { App, View } from '../app.js';
import { field, openDialog } from '../dialog.js';
import { h, replace, visible } from '../dom.js';
import { LABEL_PATTERN, dateTime } from '../format.js';
import type { CreatedTokenJson, TokenJson } from '../types.js';

export function tokensView(app: App): View {
  const tbody = h('tbody', null);
  const showRevoked = h('input', { type: 'checkbox', id: 'show-revoked' });
  const load = async () => {
    try {
      const tokens = await app.api.get<TokenJson[]>(`/api/tokens?include_revoked=${showRevoked.checked}`);
      replace(
        tbody,
        ...tokens.map((t) =>
          h(
            'tr',
            { 'data-token': t.id, class: t.revoked_at ? 'revoked' : '' },
            h('th', { scope: 'row' }, h('code', null, t.id)),
            h('td', null, t.tenant ?? 'admin'),
            h('td', null, visible(t.label ?? '')),
            h('td', null, dateTime(t.created_at)),
            h('td', null, dateTime(t.last_used_at)),
            h('td', null, t.revoked_at ? `revoked ${dateTime(t.revoked_at)}` : 'active'),
            h(
              'td',
              { class: 'actions' },
              t.revoked_at || t.id === app.who.token_id ? '' : h('button', { type: 'button', class: 'small danger', 'data-action': 'revoke', onclick: () => revoke(t) }, 'Revoke'),
            ),
          ),
        ),
      );
    } catch (err) {
      app.notify((err as Error).message, 'error');
    }
  };
  const revoke = (t: TokenJson) =>
    openDialog({
      title: `Revoke ${t.id}?`,
      body: [h('p', null, `The ${t.tenant ? `tenant "${t.tenant}"` : 'admin'} token${t.label ? ` "${visible(t.label)}"` : ''} stops working at once; sessions using it end.`)],
      confirm: 'Revoke',
      danger: true,
      run: async () => {
        await app.api.send('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
        return `${t.id} revoked`;
      },
      done: () => void load(),
    });
  const create = () => {
    const tenant = h('input', { id: 'token-tenant', required: true, autocomplete: 'off', placeholder: 'alice', pattern: LABEL_PATTERN });
    const label = h('input', { id: 'token-label', autocomplete: 'off', maxlength: 200, placeholder: 'ci' });
    openDialog({
      title: 'Create a tenant token',
      body: [
        field('Tenant (the instance id it reaches)', tenant),
        field('Label (optional)', label),
        h('p', { class: 'muted' }, 'Admin tokens are made on the server with ten token-gen.'),
      ],
      confirm: 'Create',
      run: async () => {
        const t = await app.api.send<CreatedTokenJson>(
          'POST',
          '/api/tokens',
          label.value.trim() ? { tenant: tenant.value.trim(), label: label.value.trim() } : { tenant: tenant.value.trim() },
        );
        const secret = h('input', { readonly: true, value: t.token, id: 'new-token', class: 'secret', 'aria-label': 'New token' });
        secret.addEventListener('focus', () => secret.select());
        return h('div', null, h('p', null, `Token ${t.id} for tenant ${t.tenant}. Copy it now: it is not shown again.`), secret);
      },
      done: () => void load(),
    });
  };
  showRevoked.addEventListener('change', () => void load());
  void load();
  const el = h(
    'div',
    { class: 'page' },
    h('h1', null, 'Tokens'),
    h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'button', id: 'token-create', onclick: create }, 'Create tenant token…'),
      h('label', { class: 'check' }, showRevoked, ' show revoked'),
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'tokens' },
        h('thead', null, h('tr', null, ...['Id', 'Tenant', 'Label', 'Created', 'Last used', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
        tbody,
      ),
    ),
  );
  return { el };
}
