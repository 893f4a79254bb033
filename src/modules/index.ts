import type { XmppModule } from '../router/module.ts';
import accounts from './accounts/index.ts';
import disco from './disco/index.ts';
import ping from './ping/index.ts';
import version from './version/index.ts';
export const modules: readonly XmppModule[] = [accounts, disco, ping, version];
