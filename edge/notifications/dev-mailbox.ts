// HTML of GET /dev/mailbox: every message the dev transports stored, newest first.
import type { devMailbox } from '../db/schema.ts';
import { escapeHtml } from './templates.ts';

type Row = typeof devMailbox.$inferSelect;

export function renderDevMailbox(rows: Row[]): string {
  const items = rows.map(
    (r) => `<article class="msg" data-channel="${r.channel}" data-message-id="${escapeHtml(r.messageId)}">
<header><span class="channel">${r.channel === 'email' ? 'Email' : 'SMS'}</span> to <strong class="to">${escapeHtml(r.to)}</strong> · <time>${new Date(r.createdAt).toISOString()}</time></header>
${r.subject ? `<h2 class="subject">${escapeHtml(r.subject)}</h2>` : ''}
<pre class="body">${escapeHtml(r.text)}</pre>
${r.html ? `<details><summary>HTML version</summary><iframe sandbox="" srcdoc="${escapeHtml(r.html)}" title="HTML version"></iframe></details>` : ''}
</article>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>gymgate · local dev mailbox</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem 1rem;border-radius:4px}
.msg{border-bottom:1px solid #ddd;padding:1rem 0;overflow-wrap:anywhere}.channel{font-weight:bold;text-transform:uppercase;font-size:.8rem}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.75rem;border-radius:4px}iframe{width:100%;height:22rem;border:1px solid #ccc}</style>
</head><body>
<h1>Local dev mailbox</h1>
<p class="banner">Messages stored by the <strong>dev</strong> email and SMS transports (EMAIL_PROVIDER / SMS_PROVIDER = dev). Nothing here was sent to a member.</p>
<p>${rows.length} message${rows.length === 1 ? '' : 's'}, newest first.</p>
${items.join('\n') || '<p>No messages yet.</p>'}
</body></html>`;
}
