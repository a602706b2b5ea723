/** The fake ESIA's few HTML pages: the person picker, error pages, the logout page. */
import type { FakePerson } from './people.js';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const SCOPE_LABELS: Record<string, string> = {
  openid: 'идентификатор пользователя',
  fullname: 'ФИО',
  birthdate: 'дата рождения',
  gender: 'пол',
  snils: 'СНИЛС',
  inn: 'ИНН',
  email: 'адрес электронной почты',
  mobile: 'номер мобильного телефона',
  contacts: 'контактные данные',
  addresses: 'адреса',
  id_doc: 'документ, удостоверяющий личность',
  birthplace: 'место рождения',
};

const STYLE = `
body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f5f7fa;color:#0b1f33}
header{background:#0d4cd3;color:#fff;padding:14px 24px;font-weight:600}
header small{font-weight:400;opacity:.8}
main{max-width:560px;margin:32px auto;background:#fff;border-radius:12px;padding:24px 28px;box-shadow:0 1px 4px #0002}
h1{font-size:22px;margin:0 0 12px}
.person{display:block;width:100%;text-align:left;margin:8px 0;padding:12px 14px;border:1px solid #c9d3e0;border-radius:8px;background:#fff;font:inherit;cursor:pointer}
.person:hover{border-color:#0d4cd3}
.person span{display:block;color:#66727f;font-size:14px}
.deny{margin-top:16px;padding:10px 16px;border:0;border-radius:8px;background:#e1e7ef;font:inherit;cursor:pointer}
code{background:#f0f2f5;padding:1px 4px;border-radius:4px}
.note{color:#66727f;font-size:14px}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)} — Госуслуги (тестовая среда)</title><style>${STYLE}</style></head>
<body><header>Госуслуги <small>(тестовая среда)</small></header><main>${body}</main></body></html>
`;
}

const fullName = (p: FakePerson) => [p.lastName, p.firstName, p.middleName].filter(Boolean).join(' ');

export function pickerPage(o: { requestId: string; clientId: string; scopes: string[]; people: FakePerson[] }): string {
  const asked = o.scopes.map((s) => SCOPE_LABELS[s] ?? s).join(', ');
  const buttons = o.people.map((p) => {
    const details = [
      p.snils ? `СНИЛС ${p.snils}` : 'СНИЛС не указан',
      p.trusted ? 'подтверждённая учётная запись' : 'упрощённая учётная запись',
    ].join(' · ');
    return `<button class="person" type="submit" name="oid" value="${p.oid}">${escape(fullName(p))}<span>${escape(details)}</span></button>`;
  });
  return layout('Вход', `<h1>Вход в систему «${escape(o.clientId)}»</h1>
<p>Система запрашивает доступ к данным: ${escape(asked)}.</p>
<p class="note">Поддельная ЕСИА для разработки и тестов: выберите, кем войти.</p>
<form method="post" action="/aas/oauth2/v2/ac/login">
<input type="hidden" name="request" value="${escape(o.requestId)}">
${buttons.join('\n')}
<button class="deny" type="submit" name="action" value="deny">Отказать в доступе</button>
</form>`);
}

/** `description` starts with the ESIA code, as on ESIA's own error pages. */
export function errorPage(description: string, note?: string): string {
  return layout('Ошибка', `<h1>Ошибка</h1><p><code>${escape(description)}</code></p>${note ? `<p class="note">${escape(note)}</p>` : ''}`);
}

export function logoutPage(): string {
  return layout('Выход', '<h1>Вы вышли из Госуслуг</h1>');
}
