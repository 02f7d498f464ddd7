import { createHash } from 'node:crypto';
import pg from 'pg';

/** Distinct statements one connection keeps prepared; text beyond that runs unnamed, as before. */
const MAX_PREPARED = 256;

/**
 * A pg Client that runs each parameterised statement as a named prepared statement, so PostgreSQL
 * parses it once per connection instead of once per call (measured under the EPS bench: most of the
 * server's CPU went to per-statement work outside execution). The name is derived from the text, so
 * every call site benefits without naming its statements; statements without parameters (migrations,
 * BEGIN/COMMIT) are left as they are.
 */
export class PreparingClient extends pg.Client {
  private readonly prepared = new Map<string, string>();

  // pg's query() has many overloads; only (text, values[, callback]) is rewritten
  override query(...args: any[]): any {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0) {
      const name = this.nameFor(text);
      if (name)
        return (super.query as (...a: any[]) => any)({ name, text, values }, ...args.slice(2));
    }
    return (super.query as (...a: any[]) => any)(...args);
  }

  private nameFor(text: string): string | undefined {
    let name = this.prepared.get(text);
    if (!name && this.prepared.size < MAX_PREPARED) {
      name = 'os_' + createHash('sha1').update(text).digest('hex').slice(0, 16);
      this.prepared.set(text, name);
    }
    return name;
  }
}
