/**
 * Revalidation of documents kept as bytes (discovery, JWKS, the admin API's OpenAPI document): a
 * strong ETag of the bytes, and If-None-Match evaluated by the weak comparison RFC 9110 §13.1.2
 * prescribes for it. Not Koa's ctx.fresh: it answers 200 to any request with
 * `Cache-Control: no-cache`, which fetch() adds to every conditional request, though an origin
 * server must evaluate the condition anyway.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'koa';

/** A strong validator: the same bytes on every node give the same tag. */
export function etagOf(body: string | Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

export function ifNoneMatchMatches(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** 200 with the bytes, or 304 when the request already holds them; the caller set Cache-Control. */
export function serveKept(ctx: Context, doc: { body: string | Buffer; etag: string; type: string }): void {
  ctx.set('etag', doc.etag);
  ctx.type = doc.type;
  ctx.status = 200;
  if (ifNoneMatchMatches(ctx.get('if-none-match'), doc.etag)) {
    ctx.status = 304;
    ctx.body = null;
    return;
  }
  ctx.body = doc.body;
}
