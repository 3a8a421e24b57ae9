// Applies a JSON Patch to a parsed YAML document in place, so comments and key order of the user's file survive.
import jsonPatch, { type Operation } from "fast-json-patch";
import { type Document, isSeq } from "yaml";

/** `prefix` places the patch under a sub-path, e.g. ["items", 3] for an object inside a List. */
export function applyPatchToDocument(document: Document, patch: Operation[], prefix: (string | number)[] = []): void {
  for (const op of patch) {
    const path = [...prefix, ...op.path.split("/").slice(1).map(jsonPatch.unescapePathComponent)];
    if (op.op === "add" || op.op === "replace") {
      const parent = document.getIn(path.slice(0, -1), true);
      const last = path.at(-1);
      if (op.op === "add" && isSeq(parent) && last !== undefined) {
        const items = parent.items;
        const at = last === "-" ? items.length : Number(last);
        items.splice(at, 0, document.createNode(op.value));
      } else {
        document.setIn(path, document.createNode(op.value));
      }
    } else if (op.op === "remove") {
      document.deleteIn(path);
    } else {
      throw new Error(`unsupported patch operation ${op.op} at ${op.path}`);
    }
  }
}
