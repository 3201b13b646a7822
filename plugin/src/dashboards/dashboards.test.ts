import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';

import pluginJson from '../plugin.json';
import { QUERY_TYPES, QueryType } from '../types';

const dir = __dirname;
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

interface Target {
  datasource?: { type?: string; uid?: string };
  queryType?: string;
}
interface Panel {
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

function panels(list: Panel[] = []): Panel[] {
  return list.flatMap((p) => [p, ...panels(p.panels)]);
}

describe('bundled dashboards', () => {
  it('plugin.json includes exactly the dashboards in src/dashboards', () => {
    const included = pluginJson.includes.filter((i) => i.type === 'dashboard').map((i) => i.path);
    expect(included.sort()).toEqual(files.map((f) => `dashboards/${f}`).sort());
    for (const path of included) {
      expect(existsSync(join(dir, '..', path))).toBe(true);
    }
  });

  it.each(files)('%s has a uid and title and hard-codes no datasource uid', (file) => {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    expect(dash.uid).toEqual(expect.any(String));
    expect(dash.title).toEqual(expect.any(String));
    const refs = panels(dash.panels).flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs.filter(Boolean)) {
      expect(ref?.uid).toMatch(/^\$\{?\w+\}?$/);
    }
  });

  // The Prometheus dashboards (copies of the repo's dashboards/*.json) have no Margin targets.
  it.each(files)('%s queries Margin only with query types the backend serves', (file) => {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const types = panels(dash.panels)
      .flatMap((p) => p.targets ?? [])
      .filter((t) => t.datasource?.type === pluginJson.id)
      .map((t) => t.queryType);
    for (const t of types) {
      expect(QUERY_TYPES).toContain(t as QueryType);
    }
  });

  it('at least one bundled dashboard queries Margin', () => {
    const margin = files.filter((f) => readFileSync(join(dir, f), 'utf8').includes(`"type": "${pluginJson.id}"`));
    expect(margin.length).toBeGreaterThan(0);
  });
});
