// Turns plain Kubernetes objects into the multi-document YAML that kubectl and kustomize read.
import { stringify } from "yaml";

/** `---`-separated documents; `header` lines become `#` comments at the top. */
export function renderYamlDocuments(docs: readonly object[], header?: string): string {
  const comment = header
    ? `${header
        .split("\n")
        .map((line) => (line ? `# ${line}` : "#"))
        .join("\n")}\n`
    : "";
  // lineWidth 0: a folded caBundle or URL would still parse, but diffs and grep read better on one line.
  const body = docs.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n");
  return comment + body;
}
