import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** The server's modules and what each imports (relative imports, type-only ones included). */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const text = fs.readFileSync(file, 'utf8');
        const deps = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => path.relative(root, path.resolve(dir, m[1]!.replace(/\.js$/, '.ts'))));
        graph.set(path.relative(root, file), deps);
      }
    }
  };
  walk(root);
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (node: string, trail: string[]) => {
    state.set(node, 'visiting');
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') found.push([...trail.slice(trail.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next, [...trail, next]);
    }
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);
  return found;
}

describe('the server\'s shape', () => {
  it('has no import cycles (type imports included): each module can be read, and tested, on its own', () => {
    expect(cycles(importGraph(import.meta.dirname))).toEqual([]);
  });

  it('keeps storage free of HTTP and of the composition root', () => {
    const graph = importGraph(import.meta.dirname);
    const offending = [...graph].filter(([file]) => file.startsWith('storage/')).flatMap(([file, deps]) => deps.filter((d) => d.startsWith('routes/') || d === 'context.ts' || d === 'app.ts').map((d) => `${file} → ${d}`));
    expect(offending).toEqual([]);
  });

  it('loads what an idle SQLite site never needs only on first use: Markdown, pg, the NATS client (a value import would load them at start)', () => {
    const lazy = ['@hearth/protocol/markdown', 'pg', '@nats-io/transport-node'];
    const offending: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
          for (const m of fs.readFileSync(file, 'utf8').matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
            if (!m[2] && lazy.includes(m[3]!)) offending.push(`${path.relative(import.meta.dirname, file)} → ${m[3]}`);
          }
        }
      }
    };
    walk(import.meta.dirname);
    expect(offending).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself)', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', []]]))).toEqual(['a.ts → b.ts → a.ts']);
  });
});
