// The mutation's edits, recorded instead of made: a tree of the maps and lists it writes into and the values it sets.
/*
 * The input is never copied or changed while the mutation decides. From the tree come both results:
 * - `patchOf`: the JSON Patch, by walking only the edited paths, in the order fast-json-patch's compare() of the
 *   input and the edited copy would list them (its walk: a map's existing keys last to first, then its new keys in
 *   the order they were added), so what the API server receives is what the diff would have sent;
 * - `applyDraft`: the edited object itself (for `greenlight inject -f`), a copy along the edited paths only.
 * A map or list the mutation opens but that is absent from the input is still created, as a copy-on-write
 * mutation would create it: `{}` where there was nothing.
 */
import type { Operation } from "fast-json-patch";
import { isObject, type JsonObject } from "../../functions/contract/objects.ts";

type Node = MapNode | ListNode | Leaf;

interface MapNode {
  readonly kind: "map";
  /** Insertion order is the order new keys appear in the edited copy. */
  readonly children: Map<string, Node>;
}

interface ListNode {
  readonly kind: "list";
  readonly children: Map<number, Node>;
}

interface Leaf {
  readonly kind: "leaf";
  readonly value: unknown;
}

/** A map being edited: what the input holds there (never changed; empty when absent) and its edits. */
export interface DraftMap {
  readonly before: JsonObject;
  readonly node: MapNode;
}

/** A list being edited: the input's elements (never changed) and the edits to them. */
export interface DraftList {
  readonly before: readonly unknown[];
  readonly node: ListNode;
}

const EMPTY: JsonObject = Object.freeze({});

const mapNode = (): MapNode => ({ kind: "map", children: new Map() });

/** The root of an edit: `input` as it is, and no edits yet. */
export const draftOf = (input: JsonObject): DraftMap => ({ before: input, node: mapNode() });

/** The map at `key` of `parent`, opened for edits (created when absent); `before` must be a map or absent. */
export function openMap(parent: DraftMap, key: string, before: JsonObject | undefined): DraftMap {
  let node = parent.node.children.get(key);
  if (node === undefined) {
    node = mapNode();
    parent.node.children.set(key, node);
  }
  if (node.kind !== "map") throw new Error(`draft: ${key} is already edited as a ${node.kind}`);
  return { before: before ?? EMPTY, node };
}

/** The list at `key` of `parent`, opened for edits (created empty when absent). */
export function openList(parent: DraftMap, key: string, before: readonly unknown[]): DraftList {
  let node = parent.node.children.get(key);
  if (node === undefined) {
    node = { kind: "list", children: new Map() };
    parent.node.children.set(key, node);
  }
  if (node.kind !== "list") throw new Error(`draft: ${key} is already edited as a ${node.kind}`);
  return { before, node };
}

/** The map at `index` of a list, opened for edits; the element must exist and be a map. */
export function openElement(list: DraftList, index: number, before: JsonObject): DraftMap {
  let node = list.node.children.get(index);
  if (node === undefined) {
    node = mapNode();
    list.node.children.set(index, node);
  }
  if (node.kind !== "map") throw new Error(`draft: element ${index} is already edited as a ${node.kind}`);
  return { before, node };
}

/** Sets `key` of the map to `value`, a new value the mutation owns (never a part of the input). */
export function setValue(map: DraftMap, key: string, value: unknown): void {
  map.node.children.set(key, { kind: "leaf", value });
}

/** The value the edited copy holds where `before` (the input's value, maybe absent) was and `node` applies. */
function edited(node: Node, before: unknown): unknown {
  if (node.kind === "leaf") return node.value;
  if (node.kind === "list") {
    const copy = Array.isArray(before) ? [...before] : [];
    for (const [index, child] of node.children) copy[index] = edited(child, copy[index]);
    return copy;
  }
  const copy: JsonObject = isObject(before) ? { ...before } : {};
  for (const [key, child] of node.children) copy[key] = edited(child, copy[key]);
  return copy;
}

/** The input with the edits applied: new containers along the edited paths, the rest shared with the input. */
export const applyDraft = (draft: DraftMap): JsonObject => edited(draft.node, draft.before) as JsonObject;

const escapePathComponent = (key: string): string =>
  key.indexOf("/") === -1 && key.indexOf("~") === -1 ? key : key.replace(/~/g, "~0").replace(/\//g, "~1");

const isContainer = (value: unknown): value is object => typeof value === "object" && value !== null;

/** What compare() emits at `path` for a child whose input value is `before`: nothing, a replace, or recursion. */
function changedChild(node: Node, before: unknown, path: string, patch: Operation[]): void {
  if (node.kind !== "leaf" && isContainer(before) && Array.isArray(before) === (node.kind === "list")) {
    walk(node, before, path, patch);
    return;
  }
  const value = edited(node, before);
  // A leaf equal to what was there changes nothing (compare() compares primitives by value, objects by reference).
  if (value !== before) patch.push({ op: "replace", path, value });
}

/** compare()'s walk, over the edited keys only: existing ones last to first, then the new ones in their order. */
function walk(node: MapNode | ListNode, before: object, path: string, patch: Operation[]): void {
  if (node.kind === "list") {
    const list = before as readonly unknown[];
    const indices = [...node.children.keys()];
    if (indices.length > 1) indices.sort((a, b) => b - a);
    for (const index of indices) {
      const child = node.children.get(index) as Node;
      if (index < list.length) changedChild(child, list[index], `${path}/${index}`, patch);
    }
    return;
  }
  const map = before as JsonObject;
  if (node.children.size === 0) return;
  const keys = Object.keys(map);
  for (let index = keys.length - 1; index >= 0; index--) {
    const key = keys[index] as string;
    const child = node.children.get(key);
    if (child !== undefined) changedChild(child, map[key], `${path}/${escapePathComponent(key)}`, patch);
  }
  for (const [key, child] of node.children) {
    if (!Object.hasOwn(map, key)) {
      patch.push({ op: "add", path: `${path}/${escapePathComponent(key)}`, value: edited(child, undefined) });
    }
  }
}

/** The JSON Patch from the input to its edited copy, operation for operation as compare() would list it. */
export function patchOf(draft: DraftMap): Operation[] {
  const patch: Operation[] = [];
  walk(draft.node, draft.before, "", patch);
  return patch;
}
