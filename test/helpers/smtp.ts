/** A real SMTP server on loopback (smtp-server) that keeps what arrives, parsed (mailparser). */
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort } from './app.js';

export interface SmtpCatcher {
  url: string;
  port: number;
  messages: ParsedMail[];
  /** Refuse (`temporary` 4xx) or accept from now on. */
  refuse(on: boolean): void;
  waitFor(predicate: (m: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export async function startSmtp(port?: number): Promise<SmtpCatcher> {
  const messages: ParsedMail[] = [];
  let refusing = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      if (refusing) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('try again later'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream).then((m) => {
        messages.push(m);
        callback();
      }, callback);
    },
  });
  const actual = port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(actual, '127.0.0.1', () => resolve()));
  return {
    url: `smtp://127.0.0.1:${actual}`,
    port: actual,
    messages,
    refuse: (on) => void (refusing = on),
    async waitFor(predicate, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no such letter within ${timeoutMs} ms; got: ${messages.map((m) => m.subject).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
