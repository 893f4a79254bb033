// The operator's `waddle waddle ...` commands, run as a real process on the data directory; the result is
// then read back through WaddleService on the same files.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Placement } from '../../src/shard/placement.ts';
import { GroupDbs } from '../../src/storage/group-dbs.ts';
import { WaddleRepo } from '../../src/storage/waddle-repo.ts';
import { WaddleService } from '../../src/waddles/service.ts';

const BIN = fileURLToPath(new URL('../../bin/waddle.js', import.meta.url));

function waddle(dataDir: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'waddle', ...args], {
    env: { ...process.env, WADDLE_DATA_DIR: dataDir, WADDLE_DOMAIN: 'localhost', WADDLE_WORKERS: '2' },
    input: '',
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

t.test('create, members, channels, retention, show, delete', async (t) => {
  const dir = t.testdir();
  const created = waddle(dir, ['create', 'penguins', '--name', 'Penguin Club', '--owner', 'alice']);
  t.equal(created.code, 0, created.err);
  t.match(created.out, /created Waddle penguins \(Penguin Club\) at penguins\.groups\.localhost, owner alice@localhost/);
  t.ok(existsSync(join(dir, 'waddles', 'penguins.db')), 'the Waddle has its own file');
  const dup = waddle(dir, ['create', 'penguins', '--name', 'Again', '--owner', 'bob']);
  t.equal(dup.code, 1, 'an existing id is refused');
  t.match(dup.err, /already exists/);
  t.equal(waddle(dir, ['create', 'Not_A_Label', '--name', 'x', '--owner', 'bob']).code, 1, 'a bad id is refused');
  t.equal(waddle(dir, ['create', 'auks', '--name', 'Auks']).code, 2, 'missing --owner is a usage error');
  t.equal(waddle(dir, ['create', 'auks', '--name', 'Auks', '--owner', 'bob@localhost']).code, 0);
  t.same(waddle(dir, ['list']).out.trim().split('\n'), ['auks\tAuks', 'penguins\tPenguin Club'], 'list');

  t.equal(waddle(dir, ['member', 'penguins', 'bob', '--role', 'admin']).code, 0);
  t.equal(waddle(dir, ['member', 'penguins', 'carol@localhost', '--role', 'member']).code, 0);
  t.equal(waddle(dir, ['channel', 'penguins', 'create', 'general', '--title', 'General chat']).code, 0);
  const staff = waddle(dir, ['channel', 'penguins', 'create', 'staff', '--restricted']);
  t.equal(staff.code, 0, staff.err);
  t.match(staff.out, /created channel staff@penguins\.groups\.localhost \(restricted\)/);
  t.equal(waddle(dir, ['member', 'penguins', 'dave', '--role', 'banned', '--channel', 'general']).code, 0);
  t.equal(waddle(dir, ['retention', 'penguins', '30']).code, 0);

  const last = waddle(dir, ['member', 'penguins', 'alice', '--role', 'none']);
  t.equal(last.code, 1, 'the last owner cannot be removed');
  t.match(last.err, /last owner/);
  t.equal(waddle(dir, ['member', 'penguins', 'bob', '--role', 'king']).code, 2, 'unknown role');
  t.equal(waddle(dir, ['channel', 'penguins', 'create', 'general']).code, 1, 'channel exists');
  t.equal(waddle(dir, ['channel', 'penguins', 'create', 'Bad Name']).code, 1, 'bad channel name');
  t.equal(waddle(dir, ['retention', 'penguins', 'soon']).code, 2);
  const missing = waddle(dir, ['show', 'nope']);
  t.equal(missing.code, 1);
  t.match(missing.err, /no Waddle nope/);
  t.notOk(existsSync(join(dir, 'waddles', 'nope.db')), 'looking up a missing Waddle creates no file');
  t.equal(waddle(dir, ['frobnicate']).code, 2, 'unknown subcommand');

  const show = waddle(dir, ['show', 'penguins']);
  t.equal(show.code, 0, show.err);
  t.match(show.out, /name: Penguin Club/);
  t.match(show.out, /retention: 30 days/);
  t.match(show.out, /general@penguins\.groups\.localhost "General chat"\n {4}banned dave@localhost/);
  t.match(show.out, /staff@penguins\.groups\.localhost \(restricted\)/);
  t.match(show.out, /owner alice@localhost\n {2}admin bob@localhost\n {2}member carol@localhost/);

  // What the server will see: the same files through WaddleService.
  const dbs = new GroupDbs({ dataDir: dir, domain: 'localhost', placement: new Placement(2), shard: 'all' });
  t.teardown(() => dbs.close());
  const svc = new WaddleService({ store: new WaddleRepo(dbs), domain: 'localhost' });
  t.equal(await svc.affiliationOf('penguins', 'general', 'bob@localhost'), 'admin');
  t.equal(await svc.affiliationOf('penguins', 'general', 'carol@localhost'), 'member');
  t.equal(await svc.affiliationOf('penguins', 'general', 'dave@localhost'), 'outcast');
  t.equal(await svc.canView('penguins', 'staff', 'carol@localhost'), false, 'restricted');
  t.equal((await svc.getWaddle('penguins'))?.retentionDays, 30);
  await dbs.close();

  t.equal(waddle(dir, ['retention', 'penguins', 'forever']).code, 0);
  t.match(waddle(dir, ['show', 'penguins']).out, /retention: forever/);
  t.equal(waddle(dir, ['channel', 'penguins', 'delete', 'general']).code, 0);
  t.equal(waddle(dir, ['channel', 'penguins', 'delete', 'general']).code, 1, 'already deleted');
  t.equal(waddle(dir, ['delete', 'penguins']).code, 0);
  t.same(waddle(dir, ['list']).out.trim().split('\n'), ['auks\tAuks'], 'deleted');
  t.equal(waddle(dir, ['show', 'penguins']).code, 1, 'gone');
});
