import { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';

import { DataSource } from './datasource';
import { MarginOptions, MarginQuery } from './types';

// A template service that knows three variables: a multi-value $customer (csv format joins its
// values with commas, as Grafana's does), a single-value $provider and an All-valued $plan.
const variables: Record<string, string[]> = {
  customer: ['cus_A1', 'cus_B2'],
  provider: ['anthropic'],
  plan: ['$__all'],
  target_margin: ['0.7'],
};
const replace = jest.fn((target?: string, scopedVars?: ScopedVars, format?: string) =>
  (target ?? '').replace(/\$(\w+)/g, (whole, name: string) => {
    const scoped = scopedVars?.[name]?.value;
    const values = scoped !== undefined ? [String(scoped)] : variables[name];
    if (!values) {
      return whole;
    }
    return format === 'csv' ? values.join(',') : values.join(' ');
  })
);

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({ replace, getVariables: () => [] }),
}));

function newDataSource(): DataSource {
  return new DataSource({
    id: 1,
    uid: 'margin',
    type: 'marginhq-margin-datasource',
    name: 'Margin',
    access: 'proxy',
    jsonData: {},
    readOnly: false,
    meta: { id: 'marginhq-margin-datasource' },
  } as unknown as DataSourceInstanceSettings<MarginOptions>);
}

describe('DataSource', () => {
  const ds = newDataSource();

  it.each<[string, Partial<MarginQuery>, ScopedVars, Partial<MarginQuery>]>([
    [
      'a multi-value variable expands to several ids',
      { customerIds: ['$customer'] },
      {},
      { customerIds: ['cus_A1', 'cus_B2'] },
    ],
    [
      'literal ids and a variable mix, without duplicates',
      { customerIds: ['cus_B2', '$customer', 'unattributed'] },
      {},
      { customerIds: ['cus_B2', 'cus_A1', 'unattributed'] },
    ],
    [
      'providers are interpolated too',
      { providers: ['$provider', 'openai'] },
      {},
      { providers: ['anthropic', 'openai'] },
    ],
    [
      'a scoped variable (repeated panel) wins over the dashboard value',
      { customerIds: ['$customer'] },
      { customer: { text: 'Globex', value: 'cus_B2' } },
      { customerIds: ['cus_B2'] },
    ],
    [
      'All reaches the backend as its marker, which means no filter',
      { customerIds: ['$plan'] },
      {},
      { customerIds: ['$__all'] },
    ],
    ['an unknown variable is left for the backend to name', { customerIds: ['$nope'] }, {}, { customerIds: ['$nope'] }],
    ['absent filters stay absent', {}, {}, { customerIds: undefined, providers: undefined }],
    ['a target margin variable is replaced', { queryType: 'plans', targetMargin: '$target_margin' }, {}, { targetMargin: '0.7' }],
    ['a literal target margin stays', { queryType: 'plans', targetMargin: '0.6' }, {}, { targetMargin: '0.6' }],
  ])('applyTemplateVariables: %s', (_, query, scopedVars, want) => {
    const base: MarginQuery = { refId: 'A', queryType: 'costs', groupBy: 'customer', ...query };
    expect(ds.applyTemplateVariables(base, scopedVars)).toEqual({ ...base, ...want });
  });

  it('applyTemplateVariables asks for the csv format so multi-value variables can be split', () => {
    replace.mockClear();
    ds.applyTemplateVariables({ refId: 'A', queryType: 'customers', customerIds: ['$customer'] }, {});
    expect(replace).toHaveBeenCalledWith('$customer', {}, 'csv');
  });

  it.each<[Partial<MarginQuery>, boolean]>([
    [{ queryType: 'customers' }, true],
    [{}, false],
    [{ queryType: 'costs', hide: true }, false],
  ])('filterQuery(%j) is %s', (query, want) => {
    expect(ds.filterQuery({ refId: 'A', ...query })).toBe(want);
  });

  it('getDefaultQuery is a customers query', () => {
    expect(ds.getDefaultQuery('dashboard' as never)).toEqual({ queryType: 'customers' });
  });

  it('metricFindQuery lists customer ids by default, named', async () => {
    const getResource = jest.spyOn(ds, 'getResource').mockResolvedValue([
      { id: 'cus_A1', name: 'Acme', plan: 'pro' },
      { id: 'cus_X9', name: '', plan: '' },
    ]);
    expect(await ds.metricFindQuery('')).toEqual([
      { text: 'Acme (cus_A1)', value: 'cus_A1' },
      { text: 'cus_X9', value: 'cus_X9' },
    ]);
    expect(getResource).toHaveBeenCalledWith('customers');
  });

  it.each([
    [
      'providers',
      ['openai', 'anthropic'],
      [
        { text: 'openai', value: 'openai' },
        { text: 'anthropic', value: 'anthropic' },
      ],
    ],
    ['plans', ['pro'], [{ text: 'pro', value: 'pro' }]],
    ['models', [{ provider: 'openai', model: 'gpt-4.1' }], [{ text: 'openai/gpt-4.1', value: 'gpt-4.1' }]],
    [
      'features',
      ['search', 'unassigned'],
      [
        { text: 'search', value: 'search' },
        { text: 'unassigned', value: 'unassigned' },
      ],
    ],
  ])('metricFindQuery(%s) reads that resource', async (what, body, want) => {
    const getResource = jest.spyOn(ds, 'getResource').mockResolvedValue(body);
    expect(await ds.metricFindQuery({ query: what })).toEqual(want);
    expect(getResource).toHaveBeenCalledWith(what);
  });

  it('metricFindQuery names what it can list when the query is unknown', async () => {
    await expect(ds.metricFindQuery('invoices')).rejects.toThrow(
      'unknown variable query "invoices": use customers, providers, plans, models, features'
    );
  });
});
