// Jest reporter: when a test file fails, prints what its services logged at error level (they log to a
// file per test file, see test/support/file-database.ts), so a failure is not a bare timeout.
const fs = require('node:fs');
const path = require('node:path');

const MAX_LINES = 200;

class FailedTestLogs {
  onTestResult(test, result) {
    if (result.numFailingTests === 0 && !result.testExecError) return;
    const directory = process.env.SHOP_TEST_LOG_DIR;
    if (!directory) return;
    const file = path.join(directory, `${path.relative(process.cwd(), test.path).replace(/[\\/]/g, '__')}.log`);
    if (!fs.existsSync(file)) return;
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    if (!lines[0]) return;
    const shown = lines.slice(-MAX_LINES);
    process.stderr.write(
      `\n--- errors logged by the services of ${path.relative(process.cwd(), test.path)} (${lines.length} lines${lines.length > MAX_LINES ? `, last ${MAX_LINES}` : ''}) ---\n${shown.join('\n')}\n--- end of log ---\n`,
    );
  }
}

module.exports = FailedTestLogs;
