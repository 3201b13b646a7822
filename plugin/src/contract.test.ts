// The frontend's query model must match the backend's (plugin/pkg/models/query.go): these tests read
// the Go source so a rename on either side fails here rather than in a user's panel.
import { readFileSync } from 'fs';
import { join } from 'path';

import pluginJson from './plugin.json';
import { GROUPINGS, GROUP_BYS, INTERVALS, LABELS, QUERY_TYPES, UNATTRIBUTED_ID } from './types';

const goQuery = readFileSync(join(__dirname, '..', 'pkg', 'models', 'query.go'), 'utf8');
const goSettings = readFileSync(join(__dirname, '..', 'pkg', 'models', 'settings.go'), 'utf8');
const goLabels = readFileSync(join(__dirname, '..', '..', 'internal', 'engine', 'labels.go'), 'utf8');

/** The string values of the constants of a Go type: `Name Type = "value"`. */
function goConstants(source: string, type: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of source.matchAll(new RegExp(`^\\s*(\\w+)\\s+${type}\\s*=\\s*"([^"]*)"`, 'gm'))) {
    out[m[1]] = m[2];
  }
  return out;
}

describe('query model contract with the Go backend', () => {
  const queryTypes = goConstants(goQuery, 'QueryType');
  const groupBys = goConstants(goQuery, 'GroupBy');

  it('has the same query types in the same order', () => {
    const order = /var QueryTypes = \[\]QueryType\{([^}]*)\}/
      .exec(goQuery)?.[1]
      .split(',')
      .map((s) => s.trim());
    expect(order?.map((name) => queryTypes[name])).toEqual([...QUERY_TYPES]);
  });

  it('has the same groupings', () => {
    expect(Object.values(groupBys).filter(Boolean).sort()).toEqual([...GROUP_BYS].sort());
    const goGroupings = /var groupings = map\[QueryType\]\[\]GroupBy\{([\s\S]*?)\n\}/.exec(goQuery)?.[1] ?? '';
    const parsed: Record<string, Array<string | undefined>> = {};
    for (const m of goGroupings.matchAll(/(\w+):\s*\{([^}]*)\}/g)) {
      parsed[queryTypes[m[1]]] = m[2].split(',').map((g) => groupBys[g.trim()] || undefined);
    }
    expect(parsed).toEqual(GROUPINGS);
  });

  it('has the same query JSON fields', () => {
    const struct = /type Query struct \{([\s\S]*?)\n\}/.exec(goQuery)?.[1] ?? '';
    const tags = [...struct.matchAll(/json:"(\w+)/g)].map((m) => m[1]);
    expect(tags.sort()).toEqual(['customerIds', 'groupBy', 'interval', 'providers', 'queryType', 'targetMargin']);
  });

  it('has the same intervals and unattributed id', () => {
    expect(/IntervalDay\s*=\s*"([^"]+)"/.exec(goQuery)?.[1]).toBe(INTERVALS[0]);
    expect(/IntervalHour\s*=\s*"([^"]+)"/.exec(goQuery)?.[1]).toBe(INTERVALS[1]);
    expect(/UnattributedID\s*=\s*engine\.(\w+)/.exec(goQuery)?.[1]).toBe('CustomerUnattributed');
    expect(UNATTRIBUTED_ID).toBe(LABELS.customerUnattributed);
  });

  it('has the label values of internal/engine/labels.go', () => {
    const block = /\nconst \(([\s\S]*?)\n\)/.exec(goLabels)?.[1] ?? '';
    const values: Record<string, string> = {};
    for (const m of block.matchAll(/^\s*(\w+)\s*=\s*"([^"]*)"/gm)) {
      values[m[1]] = m[2];
    }
    expect(values).toEqual({
      CustomerUnattributed: LABELS.customerUnattributed,
      CustomerOther: LABELS.customerOther,
      OtherModel: LABELS.otherModel,
      NoPlan: LABELS.noPlan,
      UnassignedFeature: LABELS.unassignedFeature,
    });
  });

  it('reads the settings fields the config editor writes', () => {
    const fields = [...goSettings.matchAll(/^\s*Field\w+\s*=\s*"(\w+)"/gm)].map((m) => m[1]).sort();
    expect(fields).toEqual(
      [
        'openaiBaseUrl',
        'anthropicBaseUrl',
        'openrouterBaseUrl',
        'stripeBaseUrl',
        'customerMapping',
        'featureMapping',
        'fxRates',
        'targetMargin',
        'openaiAdminKey',
        'anthropicAdminKey',
        'openrouterManagementKey',
        'stripeApiKey',
      ].sort()
    );
  });
});

describe('plugin.json', () => {
  it('declares the backend datasource the Go side serves', () => {
    expect(pluginJson).toMatchObject({
      type: 'datasource',
      id: 'marginhq-margin-datasource',
      backend: true,
      alerting: true,
      metrics: true,
      executable: 'gpx_margin',
    });
    expect(goSettings + readFileSync(join(__dirname, '..', 'pkg', 'plugin', 'datasource.go'), 'utf8')).toContain(
      `"${pluginJson.id}"`
    );
  });
});
