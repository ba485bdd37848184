import { defineConfig } from 'vitest/config';

// One run over every package: `unit` tests need no root; `integration` tests (*.int.test.ts)
// start real containers as root on the busybox rootfs built by scripts/build-test-rootfs.sh.
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['packages/*/test/**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['./scripts/vitest-global-setup.ts'],
        },
      },
    ],
  },
});
