module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/test/pages/**/*.test.js'],
  testTimeout: 20000,
  snapshotSerializers: ['miniprogram-simulate/jest-snapshot-plugin'],
}
