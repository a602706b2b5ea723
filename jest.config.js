/** Tests are ESM TypeScript compiled by swc (type-checking is `tsc --noEmit` in `npm test`). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    }],
  },
  testTimeout: 60000,
  // Two workers on CI's two cores: in one worker a test file keeps a core busy on average (its
  // browser, servers and CLI processes included), so a third only makes every file slower.
  maxWorkers: 2,
};
