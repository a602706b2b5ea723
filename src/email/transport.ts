/**
 * Where letters go: SMTP (`SMTP_URL`), or — in development without SMTP — `.eml` files in
 * `<DATA_DIR>/mail`, which any mail program opens.
 */
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config/index.js';

export interface Letter {
  id: number;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Transport {
  send(letter: Letter): Promise<void>;
  /** For the start-up log line (never the SMTP password). */
  describe: string;
  close(): void;
}

export function createTransport(config: Config): Transport {
  const message = (l: Letter) => ({
    from: l.from,
    to: l.to,
    subject: l.subject,
    text: l.text,
    html: l.html,
    // The outbox id makes a retried delivery recognisable as the same message.
    messageId: `<outbox-${l.id}@${new URL(config.issuer).hostname}>`,
  });
  if (config.mail.smtpUrl) {
    const url = new URL(config.mail.smtpUrl);
    const smtp = nodemailer.createTransport(config.mail.smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as never);
    return {
      describe: `SMTP ${url.hostname}:${url.port || (url.protocol === 'smtps:' ? 465 : 25)}`,
      async send(l) {
        await smtp.sendMail(message(l));
      },
      close: () => smtp.close(),
    };
  }
  const dir = path.join(config.dataDir, 'mail');
  const files = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    describe: `.eml files in ${dir}`,
    async send(l) {
      const info = (await files.sendMail(message(l))) as { message: Buffer };
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(dir, `${String(l.id).padStart(6, '0')}.eml`), info.message, { mode: 0o600 });
    },
    close: () => files.close(),
  };
}
