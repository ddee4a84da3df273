// config.yaml: the 2017 keys (apps.<name>.{daemon,desc,path,default_args,help}, settings.{verboseInput,
// verifyParsingByPrinting,runHeadless}) plus optional extensions. Every error names the file, the line, the key
// and the bad value, so a user can fix the file without guessing.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { parseHostPort } from '../util/hostport.js';
import { clusterSchema, type ClusterConfig } from './cluster/config.js';

export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

// YAML turns `8000` into a number; an argument or env value is always text for the child process.
const text = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }).transform((v) => String(v));

export const appSchema = z.strictObject({
  daemon: z.boolean().default(false),
  desc: z.string().default(''),
  path: z.string().min(1, 'must not be empty'),
  // Extension: arguments always passed first (e.g. a subcommand); `start` arguments replace only default_args.
  args: z.array(text).nullish().transform((v) => v ?? []),
  default_args: z.array(text).nullish().transform((v) => v ?? []),
  help: z.string().default(''),
  env: z.record(z.string(), text).nullish().transform((v) => v ?? {}),
  cwd: z.string().min(1, 'must not be empty').optional(),
  restart: z.enum(RESTART_POLICIES).default('never'),
  autostart: z.boolean().default(false),
  // Extensions overriding the settings of the same name for this app.
  shutdownGraceMs: z.number().int().min(0).max(600_000).optional(),
  startRetries: z.number().int().min(0).max(1000).optional(),
});

const settingsSchema = z.strictObject({
  verboseInput: z.boolean().default(false),
  verifyParsingByPrinting: z.boolean().default(false),
  runHeadless: z.boolean().default(false),
  allowUntokened: z.boolean().default(false),
  signalAddress: z
    .string()
    .default('127.0.0.1:7999')
    .refine((s) => {
      try {
        parseHostPort(s);
        return true;
      } catch {
        return false;
      }
    }, 'is not HOST:PORT'),
  shutdownGraceMs: z.number().int().min(0).max(600_000).default(3000),
  startRetries: z.number().int().min(0).max(1000).default(3),
  startTimeMs: z.number().int().min(0).max(600_000).default(1000),
  logMaxBytes: z.number().int().min(1024).default(1024 * 1024),
  logKeep: z.number().int().min(0).max(100).default(3),
});

const fileSchema = z.strictObject({
  apps: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'app names may use letters, digits, "_", "." and "-"'), appSchema)
    .nullish()
    .transform((v) => v ?? {}),
  settings: settingsSchema.nullish().transform((v) => v ?? settingsSchema.parse({})),
  // Extension: this Viscript as a cluster agent and/or hub (docs/cluster.md).
  cluster: clusterSchema.nullish(),
});

export type AppConfig = z.infer<typeof appSchema> & {
  name: string;
  /** Where a definition pushed by a cluster hub came from (`apps` shows it); none for config.yaml's own. */
  origin?: string;
};
export type Settings = z.infer<typeof settingsSchema>;

export interface ViscriptConfig {
  /** Absolute path of the config file (it may not exist: then there are no apps). */
  file: string;
  /** The directory relative paths in the file are resolved against. */
  dir: string;
  exists: boolean;
  apps: Map<string, AppConfig>;
  settings: Settings;
  cluster?: ClusterConfig;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly key?: string,
  ) {
    super(message);
  }
}

export function loadConfig(path: string): ViscriptConfig {
  const file = resolve(path);
  if (!existsSync(file)) return parseConfig('', file, false);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, file);
  }
  const config = parseConfig(source, file, true);
  // Definitions a cluster hub pushed (`deploy`) live beside the file and replace its apps of the same name.
  for (const app of readDeployed(file)) config.apps.set(app.name, app);
  return config;
}

/** Parses and validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(source: string, file: string, exists = true, environ: NodeJS.ProcessEnv = process.env): ViscriptConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = lineCounter.linePos(e.pos[0]).line;
    const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${file}:${line}: YAML syntax error: ${msg}`, file, line);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // The yaml library refuses a "billion laughs" document (aliases of aliases) while expanding it.
    if (!(err instanceof ReferenceError)) throw err;
    let line = 1;
    visit(doc, {
      Alias(_, node) {
        if (node.range) line = lineCounter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    throw new ConfigError(`${file}:${line}: YAML aliases expand too much (more than 100 per alias): ${err.message}`, file, line);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw issueToError(issue, doc, lineCounter, file);
  }
  const apps = new Map<string, AppConfig>();
  for (const [name, app] of Object.entries(parsed.data.apps)) {
    const expand = (value: string, field: string) => {
      try {
        return expandVariables(value, environ);
      } catch (err) {
        const { node } = locate(doc, ['apps', name, field], false);
        const line = node?.range ? lineCounter.linePos(node.range[0]).line : 1;
        throw new ConfigError(`${file}:${line}: apps.${name}.${field}: ${(err as Error).message}`, file, line, `apps.${name}.${field}`);
      }
    };
    apps.set(name, {
      ...app,
      name,
      path: expand(app.path, 'path'),
      args: app.args.map((a) => expand(a, 'args')),
      default_args: app.default_args.map((a) => expand(a, 'default_args')),
      env: Object.fromEntries(Object.entries(app.env).map(([k, v]) => [k, expand(v, 'env')])),
      cwd: app.cwd === undefined ? undefined : expand(app.cwd, 'cwd'),
    });
  }
  const cluster = parsed.data.cluster ? clusterConfig(parsed.data.cluster, file, doc, lineCounter) : undefined;
  return { file, dir: dirname(file), exists, apps, settings: parsed.data.settings, ...(cluster ? { cluster } : {}) };
}

function clusterConfig(c: z.infer<typeof clusterSchema>, file: string, doc: Document, lc: LineCounter): ClusterConfig {
  const seen = new Map<string, string>();
  for (const [name, pk] of Object.entries(c.machines)) {
    const other = seen.get(pk.toLowerCase());
    if (other) {
      const { node } = locate(doc, ['cluster', 'machines', name], false);
      const line = node?.range ? lc.linePos(node.range[0]).line : 1;
      throw new ConfigError(`${file}:${line}: cluster.machines.${name}: "${pk}" is already the key of machine ${other}`, file, line, `cluster.machines.${name}`);
    }
    seen.set(pk.toLowerCase(), name);
  }
  return {
    keyFile: resolve(dirname(file), c.key),
    messengers: c.messengers,
    hubs: c.hubs.map((h) => h.toLowerCase()),
    machines: new Map(Object.entries(c.machines).map(([n, pk]) => [n, pk.toLowerCase()])),
    acceptDeploy: c.acceptDeploy,
  };
}

/**
 * Replaces `${NAME}` (and `${NAME:-fallback}`) with Viscript's environment, so one config can name keys and
 * ports chosen at launch (the demo does this). `$$` stands for a literal `$`. An unset name without a
 * fallback is an error rather than an empty argument.
 */
export function expandVariables(value: string, environ: NodeJS.ProcessEnv): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, name?: string, fallback?: string) => {
    if (whole === '$$') return '$';
    const v = environ[name!];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new Error(`"${whole}": environment variable ${name} is not set`);
  });
}

function issueToError(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter, file: string): ConfigError {
  const parent = issue.path.map(String);
  const unknownKey = issue.code === 'unrecognized_keys';
  const badKey = issue.code === 'invalid_key'; // a map key (an app name) that breaks the naming rule
  const path = unknownKey ? [...parent, issue.keys[0]] : parent;
  const { node, found } = locate(doc, path, unknownKey || badKey);
  const line = node?.range ? lc.linePos(node.range[0]).line : 1;
  const key = path.join('.') || '(top level)';
  let problem: string;
  if (unknownKey) problem = `unknown key (known keys: ${knownKeys(parent).join(', ')})`;
  else if (badKey) problem = `bad name: ${issue.issues[0]?.message ?? issue.message}`;
  else if (!found) problem = 'is required but missing';
  else {
    let why = issue.message;
    if (issue.code === 'invalid_value' && 'values' in issue) why = `must be one of ${issue.values.map(String).join(', ')}`;
    else if (issue.code === 'invalid_type') why = `must be ${article(issue.expected)}`;
    else if (issue.code === 'invalid_union') why = issue.message; // the schema's own wording ("must be a string")
    problem = `${showValue(node)} ${why}`;
  }
  return new ConfigError(`${file}:${line}: ${key}: ${problem}`, file, line, key);
}

function article(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a map of keys';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function knownKeys(parent: string[]): string[] {
  if (parent.length === 0) return Object.keys(fileSchema.shape);
  if (parent[0] === 'settings') return Object.keys(settingsSchema.shape);
  if (parent[0] === 'cluster') return Object.keys(clusterSchema.shape);
  return Object.keys(appSchema.shape);
}

/**
 * The YAML node for `path`: its value (or the key when `wantKey`), or when part of the path is missing the
 * deepest map that exists, so the error still points at the right place.
 */
function locate(doc: Document, path: string[], wantKey: boolean): { node?: YamlNode; found: boolean } {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    if (isSeq(node)) {
      // A list item, e.g. default_args.0.
      const item = /^\d+$/.test(path[i]) ? (node.items[Number(path[i])] as YamlNode | undefined) : undefined;
      if (!item) return { node: node as YamlNode, found: false };
      if (i === path.length - 1) return { node: item, found: true };
      node = item;
      continue;
    }
    if (!isMap(node)) return { node: node as YamlNode, found: false };
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === path[i]);
    if (!pair) return { node: node as YamlNode, found: false };
    if (i === path.length - 1) {
      const key = pair.key as YamlNode;
      return { node: wantKey ? key : ((pair.value as YamlNode | null) ?? key), found: true };
    }
    node = pair.value;
  }
  return { node: node as YamlNode, found: true };
}

function showValue(node: YamlNode | undefined): string {
  let v: unknown;
  try {
    v = node && isScalar(node) ? node.value : node ? (node as { toJSON(): unknown }).toJSON() : null;
  } catch {
    return 'a value'; // e.g. an alias that cannot be shown on its own
  }
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Where an agent keeps the app definitions hubs pushed to it: beside its config file. */
export function deployedFile(configFile: string): string {
  return configFile.replace(/\.ya?ml$/i, '') + '.deployed.json';
}

const deployedSchema = z.object({
  version: z.literal(1),
  apps: z.record(
    z.string().regex(/^[A-Za-z0-9_.-]+$/),
    z.object({ hub: z.string().max(200), at: z.number().int(), app: appSchema }),
  ),
});
export type DeployedFile = z.input<typeof deployedSchema>;

/**
 * The pushed definitions, each marked with its origin. A damaged file is reported on stderr and ignored as a
 * whole: the machine then runs its config.yaml alone, and the next `deploy` rewrites the file.
 */
export function readDeployed(configFile: string): AppConfig[] {
  const file = deployedFile(configFile);
  if (!existsSync(file)) return [];
  let parsed: ReturnType<typeof deployedSchema.safeParse>;
  try {
    parsed = deployedSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    process.stderr.write(`viscript: ${file}: ignored: ${(err as Error).message}\n`);
    return [];
  }
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    process.stderr.write(`viscript: ${file}: ignored: ${i.path.join('.') || '(top level)'}: ${i.message}\n`);
    return [];
  }
  return Object.entries(parsed.data.apps).map(([name, d]) => ({
    ...d.app,
    name,
    origin: `deployed by ${d.hub} at ${new Date(d.at).toISOString().slice(0, 19).replace('T', ' ')}Z`,
  }));
}
