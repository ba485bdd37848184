import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ID, parseGroup, parsePasswd, readUserFiles, resolveUser } from '../src/plan/user.js';

const PASSWD = [
  '# local users',
  'root:x:0:0:root:/root:/bin/sh',
  '',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash',
  'bob:x:1001:1001::/home/bob:/bin/sh',
  'short:x',
  'badid:x:abc:1:::',
  'nohome:x:1002:1002',
  '+nisuser::::::',
  'alice:x:2000:2000:duplicate, first one wins:/nowhere:/bin/false',
  'crlf:x:1003:1003::/home/crlf:/bin/sh\r',
].join('\n');

const GROUP = [
  'root:x:0:',
  'wheel:x:10:alice,bob',
  'audio:x:29:alice',
  'alice:x:1000:alice',
  'bob:x:1001:',
  'staff:x:50: bob , alice ',
  '# comment:x:77:alice',
  'broken',
  'nogid:x::alice',
  'users:x:100',
].join('\n');

const files = { passwd: PASSWD, group: GROUP };

function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('parsePasswd', () => {
  it('parses entries and skips comments, blank, short and malformed lines', () => {
    const users = parsePasswd(PASSWD);
    expect(users.map((u) => u.name)).toEqual(['root', 'daemon', 'alice', 'bob', 'nohome', 'alice', 'crlf']);
    expect(users[2]).toEqual({
      name: 'alice',
      password: 'x',
      uid: 1000,
      gid: 1000,
      gecos: 'Alice,,,',
      home: '/home/alice',
      shell: '/bin/bash',
    });
    expect(users[4]).toMatchObject({ name: 'nohome', uid: 1002, gid: 1002, home: '', shell: '' });
    expect(users[6]).toMatchObject({ name: 'crlf', shell: '/bin/sh' });
  });

  it('rejects ids outside 0..2^32-2', () => {
    expect(parsePasswd('big:x:4294967295:0::/:/bin/sh\nok:x:4294967294:0::/:/bin/sh')).toEqual([
      expect.objectContaining({ name: 'ok', uid: MAX_ID }),
    ]);
  });
});

describe('parseGroup', () => {
  it('parses entries and member lists', () => {
    const groups = parseGroup(GROUP);
    expect(groups.map((g) => g.name)).toEqual(['root', 'wheel', 'audio', 'alice', 'bob', 'staff', 'users']);
    expect(groups[1]).toEqual({ name: 'wheel', password: 'x', gid: 10, members: ['alice', 'bob'] });
    expect(groups[5]?.members).toEqual(['bob', 'alice']);
    expect(groups[0]?.members).toEqual([]);
    expect(groups[6]).toEqual({ name: 'users', password: 'x', gid: 100, members: [] });
  });
});

describe('resolveUser', () => {
  it('name: passwd entry and supplementary groups from /etc/group', () => {
    expect(resolveUser('alice', files)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 29, 50],
      home: '/home/alice',
      name: 'alice',
    });
    expect(resolveUser('bob', files)).toEqual({
      uid: 1001,
      gid: 1001,
      additionalGids: [10, 50],
      home: '/home/bob',
      name: 'bob',
    });
  });

  it('uid: found in passwd behaves like the name', () => {
    expect(resolveUser('1000', files)).toEqual(resolveUser('alice', files));
    expect(resolveUser('0', files)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
  });

  it('uid not in passwd: allowed, gid 0, home /', () => {
    expect(resolveUser('4242', files)).toEqual({ uid: 4242, gid: 0, additionalGids: [], home: '/' });
    expect(resolveUser('4242:4343', files)).toEqual({ uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    expect(resolveUser('4242:audio', files)).toEqual({ uid: 4242, gid: 29, additionalGids: [], home: '/' });
  });

  it('explicit group replaces the primary gid and, as in runc, brings no supplementary groups', () => {
    expect(resolveUser('alice:audio', files)).toEqual({
      uid: 1000,
      gid: 29,
      additionalGids: [],
      home: '/home/alice',
      name: 'alice',
    });
    expect(resolveUser('alice:5000', files)).toMatchObject({ uid: 1000, gid: 5000, additionalGids: [] });
    expect(resolveUser('1000:wheel', files)).toMatchObject({ uid: 1000, gid: 10, name: 'alice' });
    expect(resolveUser('1001:29', files)).toMatchObject({ uid: 1001, gid: 29, name: 'bob' });
  });

  it('empty user part means uid 0; empty group part means the implicit form', () => {
    expect(resolveUser('', files)).toMatchObject({ uid: 0, gid: 0, name: 'root' });
    expect(resolveUser(':audio', files)).toMatchObject({ uid: 0, gid: 29, name: 'root' });
    expect(resolveUser('alice:', files)).toMatchObject({ gid: 1000, additionalGids: [10, 29, 50] });
  });

  it('first matching entry wins; missing home becomes /', () => {
    expect(resolveUser('alice', files).uid).toBe(1000);
    expect(resolveUser('nohome', files)).toMatchObject({ uid: 1002, home: '/', name: 'nohome' });
  });

  it('adds additionalGids, deduplicated, without the primary gid', () => {
    expect(resolveUser('alice', files, { additionalGids: [10, 77, 1000, 77, 5] }).additionalGids).toEqual([
      10, 29, 50, 77, 5,
    ]);
    expect(resolveUser('4242:7', files, { additionalGids: [7, 8] }).additionalGids).toEqual([8]);
  });

  it('unknown user or group names are ERR_NS_NOT_FOUND', () => {
    const user = thrown(() => resolveUser('nobody', files));
    expect(user.code).toBe('ERR_NS_NOT_FOUND');
    expect(user.message).toBe('unable to find user nobody: no matching entries in passwd file');
    const group = thrown(() => resolveUser('alice:nogroup', files));
    expect(group.code).toBe('ERR_NS_NOT_FOUND');
    expect(group.message).toBe('unable to find group nogroup: no matching entries in group file');
    // A name is never a number in disguise: the short/badid lines do not define users.
    expect(thrown(() => resolveUser('short', files)).code).toBe('ERR_NS_NOT_FOUND');
  });

  it('works without passwd and group files', () => {
    expect(resolveUser('0', {})).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/' });
    expect(resolveUser('12:34', {})).toEqual({ uid: 12, gid: 34, additionalGids: [], home: '/' });
    expect(thrown(() => resolveUser('root', {})).message).toBe(
      'unable to find user root: no matching entries in passwd file',
    );
    expect(thrown(() => resolveUser('0:wheel', { passwd: PASSWD })).code).toBe('ERR_NS_NOT_FOUND');
  });

  it('rejects ids out of range and malformed specs with ERR_NS_CONFIG', () => {
    expect(resolveUser(String(MAX_ID), {}).uid).toBe(4294967294);
    for (const spec of ['4294967295', '-1', '0:4294967295', '0:-5', '99999999999999999999', 'a:b:c']) {
      expect(thrown(() => resolveUser(spec, files)).code, spec).toBe('ERR_NS_CONFIG');
    }
    expect(thrown(() => resolveUser('0', {}, { additionalGids: [-1] })).code).toBe('ERR_NS_CONFIG');
  });
});

describe('readUserFiles', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = realpathSync(mkdtempSync(join(tmpdir(), 'ns-user-test-')));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reads etc/passwd and etc/group of a rootfs; missing files are undefined', () => {
    const rootfs = join(tmp, 'plain');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
    expect(readUserFiles(rootfs)).toEqual({ passwd: PASSWD });
    writeFileSync(join(rootfs, 'etc/group'), GROUP);
    expect(readUserFiles(rootfs)).toEqual({ passwd: PASSWD, group: GROUP });
    expect(readUserFiles(join(tmp, 'does-not-exist'))).toEqual({});
  });

  it('does not follow symlinks out of the rootfs', () => {
    const secret = join(tmp, 'host-passwd');
    writeFileSync(secret, 'host:x:0:0::/:/bin/sh\n');
    const rootfs = join(tmp, 'evil');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    symlinkSync(secret, join(rootfs, 'etc/passwd')); // absolute: re-rooted, names nothing
    symlinkSync(`../../../../../../../../..${secret}`, join(rootfs, 'etc/group')); // climbs: clamped
    expect(readUserFiles(rootfs)).toEqual({});
    // Once the re-rooted target exists inside the rootfs, that one is read.
    mkdirSync(join(rootfs, tmp), { recursive: true });
    writeFileSync(join(rootfs, secret), 'inside:x:5:5::/:/bin/sh\n');
    expect(readUserFiles(rootfs)).toEqual({
      passwd: 'inside:x:5:5::/:/bin/sh\n',
      group: 'inside:x:5:5::/:/bin/sh\n',
    });
  });

  it('follows an /etc symlink inside the rootfs', () => {
    const rootfs = join(tmp, 'linked-etc');
    mkdirSync(join(rootfs, 'real-etc'), { recursive: true });
    writeFileSync(join(rootfs, 'real-etc/passwd'), PASSWD);
    symlinkSync('/real-etc', join(rootfs, 'etc'));
    expect(readUserFiles(rootfs).passwd).toBe(PASSWD);
  });

  it('refuses a FIFO instead of hanging', () => {
    const rootfs = join(tmp, 'fifo');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    execFileSync('mkfifo', [join(rootfs, 'etc/passwd')]);
    expect(thrown(() => readUserFiles(rootfs)).code).toBe('ERR_NS_CONFIG');
  });

  it('reads the host files when rootfs is null', () => {
    const host = readUserFiles(null);
    expect(host.passwd).toMatch(/^root:/m);
    expect(parsePasswd(host.passwd ?? '').some((u) => u.uid === 0)).toBe(true);
  });
});

describe('resolveUser over changing files', () => {
  it('parses again when the text changes (the last parse is reused only for the same text)', () => {
    const v1 = { passwd: 'app:x:1000:1000::/home/app:/bin/sh\n', group: 'staff:x:50:app\n' };
    const v2 = { passwd: 'app:x:2000:2001::/srv/app:/bin/sh\n', group: 'staff:x:60:app\nmore:x:61:app\n' };
    expect(resolveUser('app', v1)).toEqual({ uid: 1000, gid: 1000, additionalGids: [50], home: '/home/app', name: 'app' });
    expect(resolveUser('app', v1)).toEqual({ uid: 1000, gid: 1000, additionalGids: [50], home: '/home/app', name: 'app' });
    expect(resolveUser('app', v2)).toEqual({ uid: 2000, gid: 2001, additionalGids: [60, 61], home: '/srv/app', name: 'app' });
    expect(resolveUser('app', v1).uid).toBe(1000);
    const mutated = resolveUser('app', v1);
    mutated.additionalGids.push(99);
    expect(resolveUser('app', v1).additionalGids).toEqual([50]);
  });
});
