import t from 'tap';
import { checkBareJid, checkDomain } from '../../../src/config/schema.ts';

t.test('domainparts (RFC 7622 §3.2)', (t) => {
  t.equal(checkDomain('localhost'), 'localhost');
  t.equal(checkDomain('Chat.Example.COM'), 'chat.example.com', 'lowercased');
  t.equal(checkDomain('bücher.example'), 'bücher.example', 'IDN kept in Unicode form');
  t.equal(checkDomain('127.0.0.1'), '127.0.0.1');
  for (const bad of ['', 'a b.example', '-lead.example', 'trail-.example', 'a..b', `${'x'.repeat(64)}.example`, 'user@host', 42]) {
    t.throws(() => checkDomain(bad), { name: 'InvalidValue' }, JSON.stringify(bad));
  }
  t.end();
});

t.test('bare JIDs (RFC 7622 §3.3)', (t) => {
  t.equal(checkBareJid('Admin@Example.org'), 'admin@example.org');
  for (const bad of [
    'example.org',
    '@example.org',
    'a@b@example.org',
    'a b@example.org',
    "o'neil@example.org",
    'a@example.org/r',
    'a@bad domain',
  ]) {
    t.throws(() => checkBareJid(bad), { name: 'InvalidValue' }, bad);
  }
  t.end();
});
