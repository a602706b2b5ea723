/**
 * `npm run example`: the sample journal web app on http://localhost:8080.
 *
 * ISSUER (http://localhost:3000), PORT (8080), BASE_URL (http://localhost:$PORT), and the client:
 * CLIENT_ID and CLIENT_SECRET, or — when they are not set — the demo client that `npm run dev`
 * registered on its first start and wrote to $DATA_DIR/demo-client.json (./data, development only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createJournalWeb } from './app.js';

function demoClient(): { client_id: string; client_secret: string; issuer?: string } {
  const file = path.resolve(process.env.DATA_DIR ?? './data', 'demo-client.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    console.error(
      `journal-web: CLIENT_ID and CLIENT_SECRET are not set and ${file} cannot be read.\n` +
        '  Start journal-id with `npm run dev` first: its first start (an empty ./data) registers the demo\n' +
        '  client and writes that file. Or register a client (README, «Clients») and set both variables.',
    );
    process.exit(1);
  }
}

const port = Number(process.env.PORT ?? 8080);
const baseUrl = process.env.BASE_URL ?? `http://localhost:${port}`;
const { CLIENT_ID, CLIENT_SECRET } = process.env;
if (Boolean(CLIENT_ID) !== Boolean(CLIENT_SECRET)) {
  console.error('journal-web: set both CLIENT_ID and CLIENT_SECRET, or neither (the demo client)');
  process.exit(1);
}
const client = CLIENT_ID && CLIENT_SECRET ? { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, issuer: undefined } : demoClient();
const issuer = process.env.ISSUER ?? client.issuer ?? 'http://localhost:3000';
const { app } = createJournalWeb({ issuer, clientId: client.client_id, clientSecret: client.client_secret, baseUrl });
app.listen(port, () => console.log(`journal-web: ${baseUrl} (journal-id: ${issuer}, client: ${client.client_id})`));
