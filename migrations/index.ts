/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
import type { Knex } from 'knex';
import * as m001 from './001_foundation.js';
import * as m002 from './002_roster_invites.js';
import * as m003 from './003_mail_outbox.js';
import * as m004 from './004_email_tokens.js';
import * as m005 from './005_grant_devices.js';
import * as m006 from './006_esia.js';
import * as m007 from './007_totp.js';
import * as m008 from './008_client_registration.js';
import * as m009 from './009_audit_pseudonymize.js';
import * as m010 from './010_curator_schools.js';
import * as m011 from './011_children_data.js';
import * as m012 from './012_clients_by_api.js';
import * as m013 from './013_oidc_grant_index.js';
import * as m014 from './014_grant_devices_cascade.js';
import * as m015 from './015_esia_link_proof.js';
import * as m016 from './016_console_sessions.js';
import * as m017 from './017_login_skeleton.js';

export const migrations: Record<string, { up(db: Knex): Promise<void>; down(db: Knex): Promise<void>; config?: { transaction?: boolean } }> = {
  '001_foundation': m001,
  '002_roster_invites': m002,
  '003_mail_outbox': m003,
  '004_email_tokens': m004,
  '005_grant_devices': m005,
  '006_esia': m006,
  '007_totp': m007,
  '008_client_registration': m008,
  '009_audit_pseudonymize': m009,
  '010_curator_schools': m010,
  '011_children_data': m011,
  '012_clients_by_api': m012,
  '013_oidc_grant_index': m013,
  '014_grant_devices_cascade': m014,
  '015_esia_link_proof': m015,
  '016_console_sessions': m016,
  '017_login_skeleton': m017,
};
