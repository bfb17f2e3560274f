// Validates Kubernetes manifests against the API schemas with
// kubernetes-models (the Kubernetes OpenAPI schemas; the Prometheus
// operator's CRD schemas for monitoring.coreos.com), then type-checks each
// object against the same models' TypeScript interfaces, which refuses the
// unknown fields the schemas let pass.
//
//   node validate.js FILE.yaml...      exit 0: every object valid; 1: not
//   node validate.js --self-test       the validator must reject broken objects
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

function modelFor(apiVersion, kind) {
  try {
    return require(modulePath(apiVersion, kind))[kind];
  } catch (e) {
    if (e.code === "MODULE_NOT_FOUND") return null;
    throw e;
  }
}

// The schemas kubernetes-models ships are compiled validators that, like
// the Kubernetes OpenAPI schemas, let unknown fields pass (an API server
// drops or rejects them: a misspelt `hostNetWork` would silently run the
// pod in the pod network). Its TypeScript declarations list every field,
// so each object is also type-checked as an object literal of its model's
// interface: the compiler's excess-property check names every unknown
// field, and its type check repeats the schema's.
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

function typeCheck(objects) {
  const ts = require("typescript");
  const lines = [];
  const owners = [];  // line index -> object name
  objects.forEach(({ doc, name }, i) => {
    const first = lines.length;
    lines.push(`import type { I${doc.kind} as T${i} } from ${JSON.stringify(modulePath(doc.apiVersion, doc.kind))};`);
    lines.push(...`export const o${i}: T${i} = ${JSON.stringify(doc, null, 2)};`.split("\n"));
    for (let l = first; l < lines.length; l++) owners[l] = name;
  });
  const file = path.join(__dirname, `.typecheck-${process.pid}.ts`);
  fs.writeFileSync(file, lines.join("\n") + "\n");
  try {
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, moduleResolution: ts.ModuleResolutionKind.Node10,
      module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, types: [],
    });
    const errors = new Map();
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, " ");
      const line = d.file && d.file.fileName === file ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      const name = owners[line] || "(type check)";
      if (!errors.has(name)) errors.set(name, []);
      errors.get(name).push(`${line >= 0 ? `line ${line + 1}: ` : ""}${text}`);
    }
    return errors;
  } finally {
    fs.unlinkSync(file);
  }
}

// Schema errors of one object (kubernetes-models' ajv validator).
function schemaErrors(doc) {
  if (!doc || typeof doc !== "object" || !doc.apiVersion || !doc.kind) return ["no apiVersion/kind"];
  const Model = modelFor(doc.apiVersion, doc.kind);
  if (!Model) return [`no schema for ${doc.apiVersion} ${doc.kind}`];
  try {
    new Model(doc).validate();
  } catch (e) {
    return e.errors ? e.errors.map((x) => `${x.instancePath || "/"} ${x.message}`) : [e.message];
  }
  return [];
}

// Every object: schema errors, then (for those that pass) type errors.
function validateObjects(objects) {
  const results = objects.map(({ doc }) => schemaErrors(doc));
  const typed = objects.filter((_, i) => results[i].length === 0);
  const typeErrors = typeCheck(typed);
  objects.forEach((o, i) => results[i].push(...(typeErrors.get(o.name) || [])));
  if (typeErrors.has("(type check)")) results.push(typeErrors.get("(type check)"));
  return results;
}

function validateFiles(files) {
  let bad = 0;
  const objects = [];
  for (const file of files) {
    for (const d of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
      if (d.errors.length) {
        console.log(`FAIL ${file}: YAML: ${d.errors.map((e) => e.message).join("; ")}`);
        bad++;
        continue;
      }
      const doc = d.toJS();
      if (doc === null) continue;
      objects.push({ doc, name: `${doc.kind}/${doc.metadata && doc.metadata.name} (${doc.apiVersion}, ${path.basename(file)})` });
    }
  }
  const results = validateObjects(objects);
  results.forEach((errors, i) => {
    const name = i < objects.length ? objects[i].name : "(type check)";
    if (errors.length) {
      bad++;
      console.log(`FAIL ${name}`);
      for (const e of errors) console.log(`     ${e}`);
    } else {
      console.log(`ok   ${name}`);
    }
  });
  return { bad, count: objects.length };
}

function selfTest() {
  // Each must be rejected: a validator that passes these proves nothing.
  const broken = {
    "containerPort not a number": {
      apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x" },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i", ports: [{ containerPort: "udp" }] }] } } },
    },
    "DaemonSet without selector": {
      apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x" },
      spec: { template: { spec: { containers: [{ name: "c", image: "i" }] } } },
    },
    "misspelt hostNetwork": {
      apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x" },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } },
        spec: { hostNetWork: true, containers: [{ name: "c", image: "i" }] } } },
    },
    "PodMonitor endpoints not a list": {
      apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", metadata: { name: "x" },
      spec: { selector: {}, podMetricsEndpoints: { port: "metrics" } },
    },
    "ConfigMap data not strings": {
      apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { "ntp.conf": 5 },
    },
  };
  let failed = 0;
  const objects = Object.entries(broken).map(([what, doc]) => ({ doc, name: what }));
  validateObjects(objects).slice(0, objects.length).forEach((errors, i) => {
    console.log(`${errors.length ? "rejected" : "ACCEPTED"}: ${objects[i].name}${errors.length ? ": " + errors[0] : ""}`);
    if (!errors.length) failed++;
  });
  return failed;
}

const args = process.argv.slice(2);
if (args[0] === "--self-test") {
  const failed = selfTest();
  if (failed) {
    console.log(`validate: ${failed} broken object(s) accepted`);
    process.exit(1);
  }
  console.log("validate: self-test passed (every broken object rejected)");
  process.exit(0);
}
if (!args.length) {
  console.error("usage: node validate.js FILE.yaml... | --self-test");
  process.exit(2);
}
const { bad, count } = validateFiles(args);
console.log(`validate: ${count - bad} of ${count} objects valid`);
process.exit(bad ? 1 : 0);
