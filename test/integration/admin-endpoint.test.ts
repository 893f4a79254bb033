// The operator endpoint of the running server (POST /admin/rpc): only with the token derived from the data
// directory's secret, only for `admin.…` methods, and forwarded to the worker owning the key.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { adminToken, findRunningServer } from '../../src/cli/admin-client.ts';
import { startServerProcess } from '../helpers/server.ts';

t.test('admin endpoint: token, method names, discovery', async (t) => {
  const dataDir = t.testdir();
  const server = await startServerProcess({ dataDir });
  t.teardown(() => server.stop());
  const url = `http://127.0.0.1:${server.httpPort}/admin/rpc`;
  const post = (token: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  const wrong = await post('not-the-token', { key: 'w1', method: 'admin.waddle', params: { args: ['list'], opts: {} } });
  t.equal(wrong.status, 401, 'a wrong token is refused');
  const token = adminToken((await readFile(join(dataDir, 'secret'), 'utf8')).trim());
  const notAdmin = await post(token, { key: 'alice@localhost', method: 'session.bind', params: {} });
  t.equal(notAdmin.status, 400, 'only admin.… rpcs can be called from outside');
  const garbage = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{' });
  t.equal(garbage.status, 400, 'a body that is not JSON');

  const running = await findRunningServer(dataDir);
  t.ok(running, 'the CLI finds the running server through data/admin.json');
  const created = (await running?.call('w1.groups.localhost', 'admin.waddle', {
    args: ['create', 'w1'],
    opts: { name: 'W1', owner: 'alice' },
  })) as { code: number; out: string[] };
  t.equal(created.code, 0, 'a command runs in the owning worker');
  t.match(created.out.join('\n'), /created Waddle w1/);
  await server.stop();
  t.equal(await findRunningServer(dataDir), undefined, 'after a clean stop nothing is found');
});
