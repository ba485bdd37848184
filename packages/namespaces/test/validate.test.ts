import { describe, expect, it } from 'vitest';
import { rootfsContainer, validateContainer, type Container } from '../src/index.js';

describe('validateContainer on hand-written configs', () => {
  const base = (): Container => rootfsContainer('/tmp', { id: 'v1', args: ['/bin/true'] });

  it('names a missing namespaces list instead of failing with a TypeError (regression)', () => {
    const c = { ...base(), namespaces: undefined } as unknown as Container;
    expect(() => validateContainer(c)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'namespaces' }));
  });

  it('names a namespaces entry that is not an object', () => {
    const c = { ...base(), namespaces: [null] } as unknown as Container;
    expect(() => validateContainer(c)).toThrow(expect.objectContaining({ code: 'ERR_NS_CONFIG', path: 'namespaces[0]' }));
  });
});
