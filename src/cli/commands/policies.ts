/** `gradcond policies`: every registered policy with its source, knobs, the groups it reads, and its options. */
import type { CommandModule } from 'yargs';
import { describePolicies } from '../../../policies/index.js';
import { UsageError } from '../../errors.js';

interface PoliciesArgs {
  json: boolean;
  name?: string;
}

function show(v: unknown): string {
  return v === undefined ? '(required)' : JSON.stringify(v);
}

export const policiesCommand: CommandModule<object, PoliciesArgs> = {
  command: 'policies [name]',
  describe: 'List the policies: what each changes, what it reads, its options and defaults, its source',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'show only this policy' })
      .option('json', { type: 'boolean', default: false, describe: 'print the list as JSON' }) as never,
  handler: (args) => {
    const all = describePolicies().filter((p) => args.name === undefined || p.name === args.name);
    if (args.name !== undefined && all.length === 0) throw new UsageError(`unknown policy '${args.name}': gradcond policies lists them`);
    if (args.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    const lines: string[] = [];
    for (const p of all) {
      lines.push(`${p.name} — ${p.description}`);
      lines.push(`  changes: ${p.knobs.length ? p.knobs.join(', ') : 'nothing'}; reads: ${p.reads.length ? p.reads.join(', ') : 'step events and epoch ends only'}`);
      lines.push(`  source: ${p.source}`);
      for (const o of p.options) lines.push(`  --policy-opt ${o.name}=${o.type}  default ${o.required ? '(required)' : show(o.default)}  ${o.description}`);
      lines.push('');
    }
    process.stdout.write(`${lines.join('\n')}\nCompose with '+', e.g. --policy adascale+cosine. Options: --policy-opt NAME=VALUE (train) or POLICY.NAME=VALUE (compare).\n`);
  },
};
