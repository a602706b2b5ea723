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
  // Three workers on CI's two cores: most files keep a core busy, but the longest ones (the browser
  // page catalogues, minutes each, and most files on PostgreSQL) wait on Chromium and the database
  // half the time; with two workers both sat in the catalogues for the last four minutes.
  maxWorkers: 3,
};
