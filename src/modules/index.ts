// The ordered list of modules every shard loads: the only file that names modules.
import type { XmppModule } from '../router/module.ts';
import accounts from './accounts/index.ts';
import blocking from './blocking/index.ts';
import carbons from './carbons/index.ts';
import csi from './csi/index.ts';
import disco from './disco/index.ts';
import fast from './fast/index.ts';
import messaging from './messaging/index.ts';
import offline from './offline/index.ts';
import ping from './ping/index.ts';
import presence from './presence/index.ts';
import roster from './roster/index.ts';
import streamManagement from './stream-management/index.ts';
import legacySession from './legacy-session/index.ts';
import mam from './mam/index.ts';
import muc from './muc/index.ts';
import version from './version/index.ts';

// stream-management comes before csi: CSI's held stanzas are counted when they are finally written.
// carbons comes after messaging (it listens to messaging's 'message:delivered') and after blocking: its
// hooks run by priority (outbound copies at Fallback, after blocking's Guard veto), and listing it
// after blocking keeps that order even where priorities tie. mam stamps stanza-ids (priority Policy) after
// blocking's veto and before messaging delivers; muc hosts conference.<domain> and *.groups.<domain>.
export const modules: readonly XmppModule[] = [
  accounts,
  fast,
  legacySession,
  disco,
  ping,
  version,
  roster,
  presence,
  messaging,
  offline,
  blocking,
  carbons,
  mam,
  muc,
  streamManagement,
  csi,
];
