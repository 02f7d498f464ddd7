import { parseArgs } from 'node:util';
import { loadConfig, type Flags } from '../config.js';

const USAGE = `openspine <command> [options]

  serve  [--data DIR] [--port N] [--host H] [--store sqlite|postgres] [--database-url URL] [--demo]
  seed   [--data DIR] --patients N [--seed S] [--numbers test|national] [--store ...] [--database-url URL]
  token  [--data DIR] --role CODE --user ID --org ODS [--name NAME] [--ttl SECONDS]
  token  [--data DIR] --patient NHS_NUMBER [--name NAME] [--ttl SECONDS]   (patient, NHS login P9)
  audit verify [--data DIR] [--store ...] [--database-url URL]
  user add [--id ID] --name "Dr Ada Lovelace" --role R8000 --org A81001 [--pin 1234]   (again: adds a role profile)
  user list | user revoke ID [--session SID]
  app add --name N --kind application|portal [--id ID] [--org ODS] [--scopes pds.read,pds.search] [--access-mode privileged-application-restricted]
          [--jwks FILE] [--secret] [--redirect-uri URL ...]
  app list | app revoke ID
  directory import FILE [--type epraccur|edispensary|etr] | directory endpoint add --org ODS --interaction CODE --address URL [--name SYSTEM]
  directory role add --user SDS_USER_ID --org ODS --role JOB_ROLE_CODE [--start YYYY-MM-DD]
  audit verify-export FILE --jwks FILE   (an AuditEvent/$export document, checked with only the public key set)
  legacy generate --rows N [--legacy-schema S] [--database-url URL]   (a dirty Oracle-era style legacy schema)
  migrate [verify|shadow] --from URL [--legacy-schema S] [--data DIR | --database-url URL]   (see migrate --help)
  sus extract --since DATE [--format ndjson|csv] [--out FILE]   (pseudonymised, opt-outs excluded)
  ers-slots publish|withdraw|demo ...   (e-RS providers' appointment slots; see ers-slots --help)
  prescriber key add|list|revoke ...   (prescribers' signing keys for EPS; see prescriber --help)
  messages dead-letters [--consumer NAME] [--count N] [--json] | messages replay ID   (dead-letter queue; --store flags as above)
  backup --to DIR [--data DIR] | backup --to DIR --store postgres --database-url URL   (online copy + manifest; see backup --help)
  backup verify [--manifest FILE] [--store ...] [--data DIR | --database-url URL]   (audit chain, signed checkpoint, rows since a backup)
  restore --from DIR [--data DIR] [--force]   (verifies the backup first; the server must be stopped)
  keys prepare | keys rotate [--overlap-hours N] | keys list [--json | --jwks]   ([--data DIR]; signing keys: see keys --help, docs/operations.md)
  serve messaging: [--messaging embedded|nats] [--nats-url URL] [--nats-stream NAME] [--node-id ID] [--message-poll-ms N]
  serve metrics: [--metrics on|off (GET /metrics, Prometheus; default on)] [--metrics-token TOKEN (scrape token; else an operations.metrics role)]
  serve tracing: [--otlp-url URL (OTLP/HTTP traces endpoint; off when unset)] [--trace-sample-ratio 0..1] [--service-name NAME]
  serve shutdown (SIGTERM): [--drain-delay-seconds N (not ready, still serving; default 0)] [--drain-seconds N (finish in flight; default 10)]

Defaults: --data ./data, --port 8080 (or PORT), --store sqlite.`;

const OPTIONS = {
  data: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  'log-level': { type: 'string' },
  'public-url': { type: 'string' },
  'external-issuer': { type: 'string' },
  'external-jwks-url': { type: 'string' },
  'external-audience': { type: 'string' },
  'demo-patients': { type: 'string' },
  'body-limit': { type: 'string' },
  'revocation-cache-ms': { type: 'string' },
  'access-token-seconds': { type: 'string' },
  'rate-limit-user': { type: 'string' },
  'rate-limit-app': { type: 'string' },
  'audit-checkpoint-seconds': { type: 'string' },
  messaging: { type: 'string' },
  'nats-url': { type: 'string' },
  'nats-stream': { type: 'string' },
  'node-id': { type: 'string' },
  'message-poll-ms': { type: 'string' },
  'otlp-url': { type: 'string' },
  'trace-sample-ratio': { type: 'string' },
  'service-name': { type: 'string' },
  'drain-seconds': { type: 'string' },
  'drain-delay-seconds': { type: 'string' },
  metrics: { type: 'string' },
  'metrics-token': { type: 'string' },
  demo: { type: 'boolean' },
  patients: { type: 'string' },
  seed: { type: 'string' },
  numbers: { type: 'string' },
  role: { type: 'string' },
  user: { type: 'string' },
  org: { type: 'string' },
  ttl: { type: 'string' },
  jwks: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  id: { type: 'string' },
  name: { type: 'string' },
  pin: { type: 'string' },
  session: { type: 'string' },
  kind: { type: 'string' },
  scopes: { type: 'string' },
  'access-mode': { type: 'string' },
  secret: { type: 'boolean' },
  patient: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
} as const;

/** Entry point of the `openspine` program; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'directory')
    return (await import('./directory.js')).directoryCommand(argv.slice(1));
  if (argv[0] === 'messages') return (await import('./messages.js')).messagesCommand(argv.slice(1));
  if (argv[0] === 'backup') return (await import('./backup.js')).backupCommand(argv.slice(1));
  if (argv[0] === 'restore') return (await import('./backup.js')).restoreCommand(argv.slice(1));
  if (argv[0] === 'keys') return (await import('./keys.js')).keysCommand(argv.slice(1));
  if (argv[0] === 'prescriber')
    return (await import('./prescribers.js')).prescriberCommand(argv.slice(1));
  if (argv[0] === 'legacy') return (await import('./legacy.js')).legacyCommand(argv.slice(1));
  if (argv[0] === 'migrate') return (await import('./migrate.js')).migrateCommand(argv.slice(1));
  if (argv[0] === 'sus') return (await import('./sus.js')).susCommand(argv.slice(1));
  if (argv[0] === 'ers-slots')
    return (await import('./ers-slots.js')).ersSlotsCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  const flags = values as Flags;
  const config = loadConfig(flags);
  switch (command) {
    // each command loads only what it needs, so `token` starts without the server or the generator
    case 'serve':
      return (await import('./serve.js')).serveCommand(config, Boolean(values.demo));
    case 'seed':
      return (await import('./seed.js')).seedCommand(config, flags);
    case 'token':
      return (await import('./token.js')).tokenCommand(config, flags);
    case 'user':
      return (await import('./users.js')).userCommand(config, positionals.slice(1), values);
    case 'app':
      return (await import('./apps.js')).appCommand(config, positionals.slice(1), values);
    case 'audit':
      if (sub === 'verify') return (await import('./audit-verify.js')).verifyAuditCommand(config);
      if (sub === 'verify-export')
        return (await import('./audit-export.js')).verifyExportCommand(positionals[2], values.jwks);
      break;
  }
  console.error(`unknown command '${[command, sub].filter(Boolean).join(' ')}'\n\n${USAGE}`);
  return 2;
}
