// The screenshots of the documentation (scripts/miniapp-screenshots): the
// pages rendered by the same harness as the page tests, written as HTML
module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/test/screens/**/*.test.js'],
  testTimeout: 60000,
}
