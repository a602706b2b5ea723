/** The project's folders, found the same way from src/ (tsx, jest) and from dist/ (built). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'views', 'layout.pug'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the project folder (views/layout.pug)');
    dir = up;
  }
  return dir;
}

export const ROOT = findRoot();
export const VIEWS_DIR = path.join(ROOT, 'views');
export const PUBLIC_DIR = path.join(ROOT, 'public');
