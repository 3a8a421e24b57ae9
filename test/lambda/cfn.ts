// Reads a packaged CloudFormation template the way CloudFormation would for the functions' roles: conditions decided,
// `Fn::If` branches taken, `AWS::NoValue` dropped, ARNs joined with stand-in pseudo parameters.
/*
 * serverless.yml's optional secrets, KMS key and VPC are CloudFormation conditions over strings osls has already
 * filled in (`Fn::Equals: ["", ""]`), so whether a statement is there is decided by the template alone. Only what
 * the roles use is understood; anything else throws, so a new intrinsic in serverless.yml shows up here.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface CfnResource {
  Type: string;
  Properties: Record<string, Json>;
  DependsOn?: string[];
}

export interface CfnTemplate {
  Conditions?: Record<string, Json>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, Json>;
}

/** The stand-ins for pseudo parameters: a deployed ARN has the real partition, region and account here. */
export const PSEUDO: Readonly<Record<string, string>> = {
  "AWS::Partition": "aws",
  "AWS::Region": "eu-west-1",
  "AWS::AccountId": "123456789012",
  "AWS::URLSuffix": "amazonaws.com",
};

const NO_VALUE = Symbol("AWS::NoValue");
type Evaluated = Json | typeof NO_VALUE;

const isObject = (value: Json | undefined): value is { [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function onlyKey(value: { [key: string]: Json }): string | undefined {
  const keys = Object.keys(value);
  return keys.length === 1 ? keys[0] : undefined;
}

export function condition(template: CfnTemplate, name: string): boolean {
  const definition = template.Conditions?.[name];
  if (definition === undefined) throw new Error(`no condition ${name} in the template`);
  return decide(template, definition);
}

function decide(template: CfnTemplate, node: Json): boolean {
  if (!isObject(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`);
  const key = onlyKey(node);
  const args = key === undefined ? undefined : node[key];
  switch (key) {
    case "Fn::Not":
      return !decide(template, (args as Json[])[0] ?? null);
    case "Fn::And":
      return (args as Json[]).every((arg) => decide(template, arg));
    case "Fn::Or":
      return (args as Json[]).some((arg) => decide(template, arg));
    case "Fn::Equals": {
      const [left, right] = (args as Json[]).map((arg) => evaluate(template, arg));
      return JSON.stringify(left) === JSON.stringify(right);
    }
    case "Condition":
      return condition(template, String(args));
    default:
      throw new Error(`not a condition: ${JSON.stringify(node)}`);
  }
}

/** The value CloudFormation would use; GetAtt becomes "<Resource>.<Attribute>", Ref of a resource its logical id. */
export function evaluate(template: CfnTemplate, node: Json): Json {
  const value = evaluated(template, node);
  if (value === NO_VALUE) throw new Error(`${JSON.stringify(node)} evaluates to no value`);
  return value;
}

function evaluated(template: CfnTemplate, node: Json): Evaluated {
  if (Array.isArray(node)) {
    return node.map((item) => evaluated(template, item)).filter((item): item is Json => item !== NO_VALUE);
  }
  if (!isObject(node)) return node;
  const key = onlyKey(node);
  const args = key === undefined ? undefined : node[key];
  switch (key) {
    case "Ref": {
      const name = String(args);
      if (name === "AWS::NoValue") return NO_VALUE;
      return PSEUDO[name] ?? name;
    }
    case "Fn::If": {
      const [name, whenTrue, whenFalse] = args as [string, Json, Json];
      return evaluated(template, condition(template, name) ? whenTrue : whenFalse);
    }
    case "Fn::Join": {
      const [separator, parts] = args as [string, Json[]];
      return (evaluate(template, parts) as Json[]).map(String).join(separator);
    }
    case "Fn::Split": {
      const [separator, text] = args as [string, Json];
      return String(evaluate(template, text)).split(separator);
    }
    case "Fn::GetAtt": {
      const [resource, attribute] = args as [string, string];
      return `${resource}.${attribute}`;
    }
    case "Fn::Sub":
      throw new Error(`Fn::Sub is not evaluated here: ${JSON.stringify(node)}`);
  }
  const out: { [key: string]: Json } = {};
  for (const [name, item] of Object.entries(node)) {
    const value = evaluated(template, item);
    if (value !== NO_VALUE) out[name] = value;
  }
  return out;
}

export interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: Json;
}

/** Every statement of a role's inline policies, evaluated, with Action and Resource always lists. */
export function roleStatements(template: CfnTemplate, role: string): Statement[] {
  const resource = template.Resources[role];
  if (resource?.Type !== "AWS::IAM::Role") throw new Error(`${role} is not an IAM role in the template`);
  const properties = evaluate(template, resource.Properties as Json) as {
    Policies?: Array<{ PolicyDocument: { Statement: Array<Record<string, Json>> } }>;
  };
  const list = (value: Json | undefined): string[] =>
    value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
  return (properties.Policies ?? []).flatMap((policy) =>
    policy.PolicyDocument.Statement.map((statement) => ({
      Effect: String(statement.Effect),
      Action: list(statement.Action),
      Resource: list(statement.Resource),
      ...(statement.Condition === undefined ? {} : { Condition: statement.Condition }),
    })),
  );
}

/** action -> the resources it is allowed on, over all statements (every one of them Allow, else this throws). */
export function grants(statements: Statement[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const statement of statements) {
    if (statement.Effect !== "Allow") throw new Error(`unexpected ${statement.Effect} statement`);
    for (const action of statement.Action) out[action] = [...(out[action] ?? []), ...statement.Resource].sort();
  }
  return out;
}

/** What `Fn::Join` gives for an SSM parameter's ARN with the stand-in pseudo parameters. */
export const ssmArn = (name: string): string =>
  `arn:aws:ssm:${PSEUDO["AWS::Region"]}:${PSEUDO["AWS::AccountId"]}:parameter${name}`;

/** ... and for a Secrets Manager secret by name (its ARN ends in "-" and six random characters). */
export const secretArn = (name: string): string =>
  `arn:aws:secretsmanager:${PSEUDO["AWS::Region"]}:${PSEUDO["AWS::AccountId"]}:secret:${name}-??????`;
