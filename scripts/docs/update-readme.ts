import { readFileSync, writeFileSync } from "node:fs";
import { renderReadme } from "./reference.js";

const path = new URL("../../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = renderReadme(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? "README.md is up to date\n" : "README.md references updated\n");
