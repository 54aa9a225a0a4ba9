// Summarises the JSON report of `redocly lint --format=json` for scripts/spec-check.sh.
//
// Usage: node lint-report.mjs <report.json> <spec path>
// Prints one line per problem ("  error rule spec#/pointer (line N): message"),
// then a last line "errors=N warnings=N" that the shell script reads.
// Exits 2 if the report cannot be read (e.g. redocly crashed before writing it).

import { readFileSync } from "node:fs";

const [reportPath, specPath] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(reportPath, "utf8"));
} catch (err) {
  console.error(`  could not read the redocly report for ${specPath}: ${err.message}`);
  process.exit(2);
}

for (const problem of report.problems ?? []) {
  const where = problem.location?.[0];
  const pointer = where?.pointer ?? "";
  const line = where?.start?.line ? ` (line ${where.start.line})` : "";
  const severity = problem.severity === "warn" ? "warning" : problem.severity;
  console.log(`  ${severity} ${problem.ruleId} ${specPath}${pointer}${line}: ${problem.message}`);
}
const totals = report.totals ?? {};
console.log(`errors=${totals.errors ?? 0} warnings=${totals.warnings ?? 0}`);
