// Splits a container image reference into repository, tag and digest, and derives the version label from it.
import { sanitizeLabelValue } from "./syntax.ts";

export interface ImageReference {
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(image: string): ImageReference {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // A ':' after the last '/' separates the tag; one before it belongs to a registry host:port.
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const ref: ImageReference = { repository: rest };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

export interface DerivedVersion {
  version: string;
  /** Why the value is a fallback, when it is one. */
  note?: string;
}

/**
 * The version label for an image: its tag (sanitised to label syntax); without a tag, `sha-<12 hex>` of its
 * digest; without either, `latest` with a note, because the running version cannot be told from the image.
 */
export function versionFromImage(image: string): DerivedVersion {
  const ref = parseImageReference(image);
  const fromTag = ref.tag ? sanitizeLabelValue(ref.tag) : "";
  if (fromTag) return { version: fromTag };
  if (ref.digest) {
    const hex = ref.digest.replace(/^[A-Za-z0-9_+.-]+:/, "").toLowerCase();
    if (/^[0-9a-f]{12,}$/.test(hex)) return { version: `sha-${hex.slice(0, 12)}` };
    return { version: "latest", note: `image digest "${ref.digest}" is not hex; version set to latest` };
  }
  if (ref.tag)
    return { version: "latest", note: `image tag "${ref.tag}" has no label-safe characters; version set to latest` };
  return { version: "latest", note: `image "${image}" has no tag; version set to latest` };
}
