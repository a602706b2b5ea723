/**
 * Text that no field of ours ever needs — NUL bytes and broken Unicode (lone surrogates, bad
 * percent-encoding, bytes that are not UTF-8) — is refused at the edge with a 400, before it can
 * reach PostgreSQL (which rejects NUL in text with an error), a page, or a stored name.
 */
import type { Context, Next } from 'koa';
import { isStorableText } from '../db/index.js';

function badRequest(ctx: Context): never {
  ctx.throw(400, 'request contains characters that are not allowed');
}

/** Path and query of every request, the provider's routes included. */
export async function guardUrl(ctx: Context, next: Next): Promise<void> {
  let path: string;
  try {
    path = decodeURIComponent(ctx.path);
  } catch {
    badRequest(ctx);
  }
  if (!isStorableText(path) || !isStorableText(ctx.query)) badRequest(ctx);
  await next();
}

/** Parsed bodies of our own forms. */
export async function guardBody(ctx: Context, next: Next): Promise<void> {
  if (!isStorableText(ctx.request.body)) badRequest(ctx);
  await next();
}
