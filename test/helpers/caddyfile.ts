/**
 * A minimal reader of the Caddyfile syntax that deploy/Caddyfile uses: one directive per line,
 * its tokens split on blanks, a block opened by a line's last `{` and closed by a lone `}`,
 * comments from `#`. No quotes, snippets or environment placeholders (it throws on quotes).
 */
export interface CaddyNode {
  tokens: string[];
  children: CaddyNode[];
  line: number;
}

export function parseCaddyfile(text: string): CaddyNode[] {
  const top: CaddyNode[] = [];
  const stack: CaddyNode[][] = [top];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    if (/["`]/.test(line)) throw new Error(`Caddyfile line ${i + 1}: quotes are beyond this reader`);
    if (line === '}') {
      if (stack.length === 1) throw new Error(`Caddyfile line ${i + 1}: } without {`);
      stack.pop();
      return;
    }
    const opens = line.endsWith('{');
    const node: CaddyNode = { tokens: (opens ? line.slice(0, -1) : line).split(/\s+/).filter(Boolean), children: [], line: i + 1 };
    if (node.tokens.includes('{') || node.tokens.includes('}')) throw new Error(`Caddyfile line ${i + 1}: one block brace per line`);
    stack.at(-1)!.push(node);
    if (opens) stack.push(node.children);
  });
  if (stack.length !== 1) throw new Error('Caddyfile: a block is not closed');
  return top;
}
