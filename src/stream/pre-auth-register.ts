// XEP-0077 §3.1 in-band registration before authentication (only when the operator turned it on).
// The account is created by its home shard; the edge only relays the form.
import { StanzaError, errorReply } from '../xmpp/errors.ts';
import { JidError, normalizeLocal, parseJid } from '../xmpp/jid.ts';
import { NS } from '../xmpp/ns.ts';
import { type Element, xml } from '../xmpp/xml.ts';
import type { EdgeServices } from './edge-services.ts';

export async function handlePreAuthRegister(iq: Element, s: EdgeServices, send: (el: Element) => void): Promise<void> {
  const id = String(iq.attrs.id ?? '');
  if (iq.attrs.type === 'get') {
    send(
      xml(
        'iq',
        { type: 'result', id },
        xml(
          'query',
          { xmlns: NS.REGISTER },
          xml('instructions', {}, `Choose a username and password for ${s.config.domain}.`),
          xml('username'),
          xml('password'),
        ),
      ),
    );
    return;
  }
  if (iq.attrs.type !== 'set') return;
  const query = iq.getChild('query', NS.REGISTER) as Element;
  const username = query.getChildText('username') ?? '';
  const password = query.getChildText('password') ?? '';
  const fail = (e: StanzaError) => send(errorReply(iq, e));
  if (query.getChild('remove')) return fail(new StanzaError('auth', 'not-authorized', 'log in to remove an account'));
  if (!username || !password) return fail(new StanzaError('modify', 'not-acceptable', 'username and password are required'));
  let bare: string;
  try {
    const j = parseJid(`${username}@${s.config.domain}`);
    bare = `${normalizeLocal(j.local)}@${j.domain}`;
  } catch (err) {
    if (err instanceof JidError) return fail(new StanzaError('modify', 'jid-malformed', 'that username is not allowed'));
    throw err;
  }
  const answer = (await s.call(bare, 'account.register', { jid: bare, password })) as { ok: boolean; condition?: string };
  if (answer.ok) send(xml('iq', { type: 'result', id }));
  else fail(new StanzaError('cancel', answer.condition === 'conflict' ? 'conflict' : 'not-acceptable'));
}
