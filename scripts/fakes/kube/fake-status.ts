// meta/v1 Status bodies and field errors shaped like the ones kube-apiserver returns, for the fake API server.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A group and a plural resource name, as in `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** An error the fake answers with: an HTTP code and a Status body. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: KubeStatus;
  readonly headers: Record<string, string>;

  constructor(status: KubeStatus, headers: Record<string, string> = {}) {
    super(status.message ?? `HTTP ${status.code}`);
    this.code = status.code;
    this.status = status;
    this.headers = headers;
  }
}

export function failure(
  code: number,
  reason: string | undefined,
  message: string,
  details?: StatusDetails,
): KubeStatus {
  const status: KubeStatus = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, code };
  if (reason !== undefined) status.reason = reason;
  if (details !== undefined) status.details = details;
  return status;
}

export function qualified(gr: GroupResource): string {
  return gr.group === "" ? gr.resource : `${gr.resource}.${gr.group}`;
}

function detailsFor(gr: GroupResource, name: string): StatusDetails {
  const details: StatusDetails = { name };
  if (gr.group !== "") details.group = gr.group;
  details.kind = gr.resource;
  return details;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(failure(404, "NotFound", `${qualified(gr)} "${name}" not found`, detailsFor(gr, name)));
}

/** What the API server answers for a path it does not serve (unknown group, version or resource). */
export function pathNotFound(): ApiError {
  return new ApiError(failure(404, "NotFound", "the server could not find the requested resource", {}));
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(failure(409, "AlreadyExists", `${qualified(gr)} "${name}" already exists`, detailsFor(gr, name)));
}

export function conflict(gr: GroupResource, name: string): ApiError {
  const message = `Operation cannot be fulfilled on ${qualified(gr)} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new ApiError(failure(409, "Conflict", message, detailsFor(gr, name)));
}

export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, "BadRequest", message));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}),
  );
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  const message = `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`;
  return new ApiError(failure(415, "UnsupportedMediaType", message));
}

export function internalError(message: string): ApiError {
  return new ApiError(failure(500, undefined, message));
}

/** A JSON Patch that could not be applied: kube-apiserver wraps the json-patch library's error like this. */
export function patchNotApplicable(message: string): ApiError {
  return new ApiError(
    failure(422, "Invalid", "the server rejected our request due to an error in our request", {
      causes: [{ reason: "UnexpectedServerResponse", message }],
    }),
  );
}

export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueNotSupported"
  | "FieldValueDuplicate"
  | "FieldValueForbidden"
  | "FieldValueTooLong";

/** One field error, as in k8s.io/apimachinery/pkg/util/validation/field. */
export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail?: string;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? "null";
}

/** The part of the message after `field: `. */
export function fieldErrorBody(error: FieldError): string {
  const suffix = error.detail ? `: ${error.detail}` : "";
  switch (error.type) {
    case "FieldValueRequired":
      return `Required value${suffix}`;
    case "FieldValueForbidden":
      return `Forbidden${suffix}`;
    case "FieldValueTooLong":
      return `Too long${suffix}`;
    case "FieldValueDuplicate":
      return `Duplicate value: ${formatValue(error.value)}`;
    case "FieldValueNotSupported":
      return `Unsupported value: ${formatValue(error.value)}${suffix}`;
    default:
      return `Invalid value: ${formatValue(error.value)}${suffix}`;
  }
}

export function required(field: string, detail?: string): FieldError {
  return detail === undefined ? { type: "FieldValueRequired", field } : { type: "FieldValueRequired", field, detail };
}

export function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return { type: "FieldValueInvalid", field, value, detail };
}

/** 422 Invalid: `Deployment.apps "web" is invalid: [spec.selector: Required value, ...]`. */
export function invalid(kind: string, group: string, name: string, errors: readonly FieldError[]): ApiError {
  const groupKind = group === "" ? kind : `${kind}.${group}`;
  const texts = errors.map((error) => `${error.field}: ${fieldErrorBody(error)}`);
  const aggregate = texts.length === 1 ? texts[0] : `[${texts.join(", ")}]`;
  const details: StatusDetails = { name };
  if (group !== "") details.group = group;
  details.kind = kind;
  details.causes = errors.map((error) => ({ reason: error.type, message: fieldErrorBody(error), field: error.field }));
  return new ApiError(failure(422, "Invalid", `${groupKind} "${name}" is invalid: ${aggregate}`, details));
}

/** What an injected failure is about, for a body that looks like the API server's own. */
export interface FailureContext {
  gr?: GroupResource;
  name?: string;
  namespace?: string;
  verb?: string;
}

/** The body the fake sends for an injected failure with this code. */
export function injectedFailure(code: number, ctx: FailureContext): ApiError {
  const { gr, name } = ctx;
  const target = gr && name ? `${qualified(gr)} "${name}"` : gr ? qualified(gr) : "the resource";
  const details = gr && name ? detailsFor(gr, name) : {};
  switch (code) {
    case 401:
      return new ApiError(failure(401, "Unauthorized", "Unauthorized"));
    case 403: {
      const where = ctx.namespace ? ` in the namespace "${ctx.namespace}"` : " at the cluster scope";
      const resource = gr ? `resource "${gr.resource}" in API group "${gr.group}"` : "this resource";
      const message = `${target} is forbidden: User "system:serviceaccount:greenlight:greenlight" cannot ${ctx.verb ?? "get"} ${resource}${where}`;
      return new ApiError(failure(403, "Forbidden", message, details));
    }
    case 404:
      return gr && name ? notFound(gr, name) : pathNotFound();
    case 409:
      return gr && name
        ? conflict(gr, name)
        : new ApiError(failure(409, "Conflict", "Operation cannot be fulfilled: the object has been modified"));
    case 422:
      return new ApiError(failure(422, "Invalid", `${target} is invalid`, details));
    case 429:
      return new ApiError(
        failure(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds: 1 }),
        { "retry-after": "1" },
      );
    case 503:
      return new ApiError(failure(503, "ServiceUnavailable", "the server is currently unable to handle the request"));
    case 504:
      return new ApiError(
        failure(
          504,
          "Timeout",
          "Timeout: request did not complete within requested timeout - context deadline exceeded",
        ),
      );
    default:
      if (code >= 500) {
        return new ApiError(
          failure(code, "InternalError", "Internal error occurred: injected failure", {
            causes: [{ message: "injected failure" }],
          }),
        );
      }
      return new ApiError(failure(code, undefined, `the server responded with the status code ${code}`));
  }
}
