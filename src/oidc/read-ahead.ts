/**
 * Rows read ahead of their use in the same request: the oidc adapter reads a token together with
 * its grant and its account (one statement, adapter-queries.ts FIND), and the provider asks for
 * the grant and the account right after. Each row is handed out once and only for a moment, so it
 * is never older than the request that read it; whatever nobody took goes after a second.
 */
export class ReadAhead<T> {
  private rows = new Map<string, { row: T; at: number }>();
  static readonly TTL_MS = 1000;

  put(id: string, row: T): void {
    const now = performance.now();
    // Oldest first (insertion order): what nobody took in time goes.
    for (const [key, e] of this.rows) {
      if (now - e.at < ReadAhead.TTL_MS) break;
      this.rows.delete(key);
    }
    this.rows.delete(id);
    this.rows.set(id, { row, at: now });
  }

  take(id: string): T | undefined {
    const e = this.rows.get(id);
    if (!e) return undefined;
    this.rows.delete(id);
    return performance.now() - e.at < ReadAhead.TTL_MS ? e.row : undefined;
  }

  forget(id: string): void {
    this.rows.delete(id);
  }
}
