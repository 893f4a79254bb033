// Accounts on their home shard: credentials for SASL (asked for by the connection's edge over an rpc),
// XEP-0077 in-band registration (creation before login, only when enabled), password change and
// account removal for logged-in users.
import { defineModule } from '../../router/module.ts';
import { deriveCredentials } from '../../stream/sasl/credentials.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { NS } from '../../xmpp/ns.ts';
import { xml } from '../../xmpp/xml.ts';

export default defineModule({
  name: 'accounts',
  implements: [
    { xep: 77, name: 'In-Band Registration', version: '2.4', status: 'complete', note: 'creation only when registration is enabled' },
  ],
  setup(ctx) {
    ctx.rpc('auth.credentials', async (params) => {
      const { jid } = params as { jid: string };
      return (await ctx.stores.accounts.get(jid))?.credentials ?? null;
    });

    ctx.rpc('account.register', async (params) => {
      const { jid, password } = params as { jid: string; password: string };
      if (!ctx.config.registration) return { ok: false, condition: 'not-allowed' };
      // Hashing runs on libuv's pool (async pbkdf2), so this shard's event loop keeps serving stanzas.
      const credentials = await deriveCredentials(password);
      const created = await ctx.stores.accounts.create({ jid, credentials, createdAt: Date.now() });
      if (created) ctx.log.info({ jid }, 'account registered in-band');
      return created ? { ok: true } : { ok: false, condition: 'conflict' };
    });

    ctx.disco.feature(NS.REGISTER, 'server');
    ctx.iq.get(
      NS.REGISTER,
      'query',
      (req) => {
        if (!req.session) throw new StanzaError('auth', 'forbidden');
        // XEP-0077 §3.2: a registered user gets <registered/> and its username.
        return xml('query', { xmlns: NS.REGISTER }, xml('registered'), xml('username', {}, req.from.local));
      },
      ['server', 'account'],
    );

    ctx.iq.set(
      NS.REGISTER,
      'query',
      async (req) => {
        const session = req.session;
        if (!session) throw new StanzaError('auth', 'forbidden');
        const bare = session.bare;
        if (req.payload.getChild('remove')) {
          // XEP-0077 §3.2: remove the account, answer, then end every session of it.
          await ctx.stores.accounts.delete(bare);
          ctx.log.info({ jid: bare }, 'account removed in-band');
          setImmediate(() => {
            for (const s of ctx.sessions.ofUser(bare)) ctx.closeSession(s, 'not-authorized', 'account removed');
          });
          return undefined;
        }
        const username = req.payload.getChildText('username');
        const password = req.payload.getChildText('password');
        // XEP-0077 §3.3: changing the password needs the username (the account's own) and the new password.
        if (!password || (username !== null && username.toLowerCase() !== session.jid.local))
          throw new StanzaError('modify', 'bad-request');
        await ctx.stores.accounts.setCredentials(bare, await deriveCredentials(password));
        // A new password retires every XEP-0484 token issued under the old one (as Prosody does).
        await ctx.stores.fast.revoke(bare);
        ctx.log.info({ jid: bare }, 'password changed in-band');
        return undefined;
      },
      ['server', 'account'],
    );
  },
});
