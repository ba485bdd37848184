import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SYMLINK_HOPS, isWithin, lstatOrUndefined, resolveInRoot } from '../src/plan/path.js';
import { HostReads } from '../src/plan/hostreads.js';

let tmp: string;
let root: string;
let outside: string;

beforeAll(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'ns-path-test-')));
  root = join(tmp, 'rootfs');
  outside = join(tmp, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host secret\n');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  mkdirSync(join(root, 'a/b/c'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(root, 'file'), 'x');
  symlinkSync('/etc', join(root, 'abs')); // absolute: must land on root/etc, not the host's /etc
  symlinkSync('/etc/passwd', join(root, 'a/b/c/pw')); // absolute, below the top: restarts at root
  symlinkSync('../../../../../../etc', join(root, 'rel')); // climbs far above root
  symlinkSync('../../../../..', join(root, 'a/b/up'));
  symlinkSync(outside, join(root, 'hostdir')); // absolute link naming a real host directory
  symlinkSync(`../${'../'.repeat(8)}${outside.slice(1)}/secret`, join(root, 'a/sneaky'));
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('/lib', join(root, 'lib2')); // link to a link
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  symlinkSync('self', join(root, 'self'));
  symlinkSync('../file', join(root, 'a/tofile'));
  // A chain of exactly MAX_SYMLINK_HOPS links ending in a directory, and one longer.
  mkdirSync(join(root, 'chain'));
  mkdirSync(join(root, 'chain/end'));
  for (let i = 0; i < MAX_SYMLINK_HOPS; i++) {
    const next = i === MAX_SYMLINK_HOPS - 1 ? 'end' : `l${i + 1}`;
    symlinkSync(next, join(root, `chain/l${i}`));
  }
  symlinkSync('l0', join(root, 'chain/extra'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('resolveInRoot', () => {
  it('joins plain paths, absolute or relative, and normalises them', () => {
    expect(resolveInRoot(root, '/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, 'etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '//etc/./passwd/')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/')).toBe(root);
    expect(resolveInRoot(root, '')).toBe(root);
    expect(resolveInRoot(`${root}/`, '/etc')).toBe(join(root, 'etc'));
  });

  it('keeps `..` in the path from climbing above the root', () => {
    expect(resolveInRoot(root, '../../../../etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/a/b/../../../..')).toBe(root);
    expect(resolveInRoot(root, '/a/b/c/../../x')).toBe(join(root, 'a/x'));
  });

  it('re-roots absolute symlink targets', () => {
    expect(resolveInRoot(root, '/abs/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/a/b/c/pw')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, 'a/b/c/pw/../group')).toBe(join(root, 'etc/group'));
    expect(resolveInRoot(root, '/hostdir/secret')).toBe(join(root, outside, 'secret'));
    expect(resolveInRoot(root, '/hostdir')).not.toBe(outside);
  });

  it('stops relative symlink targets at the root', () => {
    expect(resolveInRoot(root, '/rel/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/a/b/up')).toBe(root);
    expect(resolveInRoot(root, '/a/b/up/etc')).toBe(join(root, 'etc'));
    expect(resolveInRoot(root, '/a/sneaky')).toBe(join(root, outside, 'secret'));
  });

  it('resolves relative targets from the link directory and follows chains', () => {
    expect(resolveInRoot(root, '/lib/x.so')).toBe(join(root, 'usr/lib/x.so'));
    expect(resolveInRoot(root, '/lib2')).toBe(join(root, 'usr/lib'));
    expect(resolveInRoot(root, '/a/tofile')).toBe(join(root, 'file'));
    expect(resolveInRoot(root, '/lib/../../../etc')).toBe(join(root, 'etc'));
  });

  it('appends components that do not exist', () => {
    expect(resolveInRoot(root, '/missing/dir/../x')).toBe(join(root, 'missing/x'));
    expect(resolveInRoot(root, '/file/below')).toBe(join(root, 'file/below'));
    expect(resolveInRoot(root, '/abs/new/file')).toBe(join(root, 'etc/new/file'));
  });

  it('fails with ELOOP on loops and after too many hops', () => {
    for (const p of ['/loop1', '/self/x', '/loop2/a/b']) {
      expect(() => resolveInRoot(root, p)).toThrowError(expect.objectContaining({ code: 'ELOOP' }));
    }
    expect(resolveInRoot(root, '/chain/l0')).toBe(join(root, 'chain/end'));
    expect(() => resolveInRoot(root, '/chain/extra')).toThrowError(/too many levels of symbolic links/);
  });

  it('always returns the root or a path below it', () => {
    for (const p of ['/abs', '/rel', '/hostdir', '/a/b/up', '/a/sneaky', '/../..', '/lib2/../..']) {
      expect(isWithin(root, resolveInRoot(root, p))).toBe(true);
    }
  });
});

describe('resolveInRoot with an lstat of its own', () => {
  it('treats a missing path (ENOENT, ENOTDIR) as undefined, without throwing', () => {
    expect(lstatOrUndefined(join(root, 'nope'))).toBeUndefined();
    expect(lstatOrUndefined(join(root, 'file/below'))).toBeUndefined();
    expect(lstatOrUndefined(join(root, 'etc'))?.isDirectory()).toBe(true);
  });

  it('gives the same answers through a planning pass\'s HostReads.lstat, which asks the file system once per path', () => {
    const memo = new HostReads().lstat;
    for (const p of ['/abs/passwd', '/lib/x', '/lib/y', '/a/b/c/pw', '/rel/passwd', '/nope/x', '/a/sneaky']) {
      expect(resolveInRoot(root, p, memo)).toBe(resolveInRoot(root, p));
    }
    expect(memo(join(root, 'lib'))).toBe(memo(join(root, 'lib'))); // the same Stats object
  });

  it('keeps the first answer for a pass: a fresh HostReads sees a change', () => {
    const p = join(tmp, 'changing');
    writeFileSync(p, 'x');
    const memo = new HostReads().lstat;
    expect(memo(p)?.isFile()).toBe(true);
    unlinkSync(p);
    expect(memo(p)?.isFile()).toBe(true);
    expect(new HostReads().lstat(p)).toBeUndefined();
  });
});

describe('isWithin', () => {
  it('compares lexically', () => {
    expect(isWithin('/a', '/a')).toBe(true);
    expect(isWithin('/a', '/a/b/c')).toBe(true);
    expect(isWithin('/a/', '/a/b/../c')).toBe(true);
    expect(isWithin('/a', '/ab')).toBe(false);
    expect(isWithin('/a', '/a/../b')).toBe(false);
    expect(isWithin('/a', '/')).toBe(false);
    expect(isWithin('/a', '/a/..x')).toBe(true);
    expect(isWithin('/', '/anything')).toBe(true);
  });
});
