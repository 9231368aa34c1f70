#!/usr/bin/env node
// Validates Kubernetes manifests (JSON: one object, an array, or a `kind: List`; from files or stdin) against the
// published schema of each object's apiVersion and kind, as packaged by npm's kubernetes-models. Prints every
// error, one per line, and exits 1 if any manifest is invalid (2 on unreadable input).
import { readFileSync } from "node:fs";

function objectsIn(doc) {
  if (Array.isArray(doc)) return doc.flatMap(objectsIn);
  if (doc && typeof doc === "object" && typeof doc.kind === "string" && doc.kind.endsWith("List") &&
      Array.isArray(doc.items)) {
    return doc.items.flatMap(objectsIn);
  }
  return [doc];
}

// "apps/v1" + "Deployment" -> "kubernetes-models/apps/v1/Deployment"; the core group has no group segment.
function modelPath(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) return null;
  if (typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function describe(obj) {
  const md = (obj && obj.metadata) || {};
  const name = md.namespace ? `${md.namespace}/${md.name}` : md.name;
  return `${obj && obj.kind ? obj.kind : "<no kind>"} ${name || "<no name>"}`;
}

function explain(err) {
  const where = err.instancePath || "/";
  let text = err.message || err.keyword;
  if (err.keyword === "required") text = `must have required property ${err.params.missingProperty}`;
  if (err.keyword === "type") text = `must be ${err.params.type}`;
  if (err.keyword === "enum") text = `must be one of ${JSON.stringify(err.params.allowedValues)}`;
  return `${where}: ${text}`;
}

async function validate(obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return ["not an object"];
  const path = modelPath(obj.apiVersion, obj.kind);
  if (!path) return [`apiVersion ${JSON.stringify(obj.apiVersion)} and kind ${JSON.stringify(obj.kind)} do not name a Kubernetes type`];
  let Model;
  try {
    const mod = await import(path);
    Model = mod[obj.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) return [`no published schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) return [String(e.message || e)];
    // A oneOf (int-or-string, quantities) reports each branch that failed, then the oneOf itself; the oneOf line
    // says it all once its branches are folded into it.
    const oneOf = new Set(e.errors.filter((x) => x.keyword === "oneOf").map((x) => x.instancePath));
    const kept = e.errors.filter((x) => x.keyword === "oneOf" || !oneOf.has(x.instancePath));
    return kept.map((x) => (x.keyword === "oneOf" ? `${x.instancePath}: must be an integer or a string (int-or-string / quantity)` : explain(x)));
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes("-h") || args.includes("--help")) {
    console.log("usage: validate.mjs [FILE.json ...]   (no FILE or '-': read stdin)");
    return 0;
  }
  const inputs = args.length ? args : ["-"];
  let bad = 0;
  let total = 0;
  for (const input of inputs) {
    let doc;
    try {
      const text = readFileSync(input === "-" ? 0 : input, "utf8");
      doc = JSON.parse(text);
    } catch (e) {
      console.error(`${input}: cannot read JSON: ${e.message}`);
      return 2;
    }
    for (const obj of objectsIn(doc)) {
      total += 1;
      const errors = await validate(obj);
      if (errors.length) bad += 1;
      for (const err of errors) console.log(`${input === "-" ? "<stdin>" : input}: ${describe(obj)}: ${err}`);
    }
  }
  console.error(`${total - bad} of ${total} manifests valid`);
  return bad ? 1 : 0;
}

process.exitCode = await main();
