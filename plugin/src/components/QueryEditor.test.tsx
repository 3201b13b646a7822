import React from 'react';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { DataSourceInstanceSettings } from '@grafana/data';

import { DataSource } from '../datasource';
import { MarginOptions, MarginQuery } from '../types';
import { QueryEditor } from './QueryEditor';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    getVariables: () => [{ name: 'customer' }],
    replace: (s: string) => s,
  }),
}));

const CUSTOMERS = [
  { id: 'cus_A1', name: 'Acme', plan: 'pro' },
  { id: 'cus_B2', name: 'Globex', plan: 'starter' },
];

function newDataSource(): DataSource {
  const settings = {
    id: 1,
    uid: 'margin',
    type: 'marginhq-margin-datasource',
    name: 'Margin',
    access: 'proxy',
    jsonData: {},
    readOnly: false,
    meta: { id: 'marginhq-margin-datasource' },
  } as unknown as DataSourceInstanceSettings<MarginOptions>;
  return new DataSource(settings);
}

async function renderEditor(query: MarginQuery, getResource = jest.fn().mockResolvedValue(CUSTOMERS)) {
  const ds = newDataSource();
  jest.spyOn(ds, 'getResource').mockImplementation(getResource);
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
  // Let the customers request settle so state updates land inside act.
  await act(async () => {});
  return { ds, onChange, onRunQuery, getResource };
}

describe('QueryEditor', () => {
  beforeAll(() => {
    // The combobox menu is virtualised and renders only the rows that fit its height; jsdom lays out
    // nothing, so every element gets a size.
    for (const prop of ['clientHeight', 'clientWidth', 'offsetHeight', 'offsetWidth']) {
      Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => 400 });
    }
  });

  afterAll(() => {
    for (const prop of ['clientHeight', 'clientWidth', 'offsetHeight', 'offsetWidth']) {
      delete (HTMLElement.prototype as unknown as Record<string, unknown>)[prop];
    }
  });

  it('renders every query type and the controls of the chosen one', async () => {
    await renderEditor({ refId: 'A', queryType: 'costs' });
    for (const name of [
      'Customers',
      'Costs',
      'Margin',
      'Unattributed',
      'Reconciliation',
      'Plans',
      'Features',
      'Forecast',
    ]) {
      expect(screen.getByRole('radio', { name })).toBeInTheDocument();
    }
    expect(screen.getByRole('radio', { name: 'Costs' })).toBeChecked();
    const groupBy = screen.getByRole('radiogroup', { name: 'Group by' });
    expect(
      within(groupBy)
        .getAllByRole('radio')
        .map((r) => r.nextSibling?.textContent?.trim())
    ).toEqual(['Provider', 'Model', 'Customer', 'Feature']);
    expect(screen.getByRole('combobox', { name: 'Customers' })).toBeInTheDocument();
    expect(screen.getByRole('combobox', { name: 'Providers' })).toBeInTheDocument();
    expect(screen.getByRole('radio', { name: 'Daily' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Hourly' })).toBeDisabled();
  });

  it('shows no customer picker or grouping where the query type ignores them', async () => {
    await renderEditor({ refId: 'A', queryType: 'unattributed' });
    expect(screen.queryByRole('combobox', { name: 'Customers' })).not.toBeInTheDocument();
    expect(screen.queryByRole('radiogroup', { name: 'Group by' })).not.toBeInTheDocument();
    expect(screen.getByRole('combobox', { name: 'Providers' })).toBeInTheDocument();
  });

  it.each([
    // [from, to, groupBy before, groupBy after]: a grouping the new type rejects falls back to its default.
    ['customers', 'costs', undefined, 'provider'],
    ['costs', 'margin', 'model', undefined],
    ['costs', 'margin', 'customer', 'customer'],
    ['margin', 'plans', 'plan', undefined],
  ] as const)(
    'changing the query type from %s to %s (groupBy %s becomes %s) calls onChange and onRunQuery',
    async (from, to, before, after) => {
      const { onChange, onRunQuery } = await renderEditor({ refId: 'A', queryType: from, groupBy: before });
      fireEvent.click(screen.getByRole('radio', { name: to[0].toUpperCase() + to.slice(1) }));
      expect(onChange).toHaveBeenCalledTimes(1);
      expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: to, groupBy: after });
      expect(onRunQuery).toHaveBeenCalledTimes(1);
    }
  );

  it('the target margin of a plans query is sent when the field is left, as decimal text', async () => {
    const { onChange, onRunQuery } = await renderEditor({ refId: 'A', queryType: 'plans' });
    const input = screen.getByRole('textbox', { name: 'Target margin' });
    fireEvent.change(input, { target: { value: '0.7' } });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(input);
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'plans', targetMargin: '0.7' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('changing the grouping to overall drops groupBy', async () => {
    const { onChange, onRunQuery } = await renderEditor({ refId: 'A', queryType: 'margin', groupBy: 'plan' });
    fireEvent.click(screen.getByRole('radio', { name: 'Overall' }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'margin', groupBy: undefined });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('the customer picker offers the customers the backend lists, and a dashboard variable', async () => {
    const { getResource, onChange, onRunQuery } = await renderEditor({ refId: 'A', queryType: 'customers' });
    expect(getResource).toHaveBeenCalledWith('customers');

    fireEvent.click(screen.getByRole('combobox', { name: 'Customers' }));
    const options = await screen.findAllByRole('option');
    const labels = options.map((o) => o.textContent ?? '');
    expect(labels.some((l) => l.includes('Acme (cus_A1)'))).toBe(true);
    expect(labels.some((l) => l.includes('Globex (cus_B2)'))).toBe(true);
    expect(labels.some((l) => l.includes('$customer'))).toBe(true);

    fireEvent.click(options.find((o) => o.textContent?.includes('Globex (cus_B2)'))!);
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'customers', customerIds: ['cus_B2'] });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('says so when the customers cannot be listed', async () => {
    const failing = jest.fn().mockRejectedValue({ data: { error: 'the datasource settings need fixing' } });
    await renderEditor({ refId: 'A', queryType: 'customers' }, failing);
    expect(screen.getByText('Could not list customers: the datasource settings need fixing')).toBeInTheDocument();
  });

  it('asks for a query type when there is none', async () => {
    await renderEditor({ refId: 'A' });
    expect(screen.getByText('Choose what the panel shows')).toBeInTheDocument();
    expect(screen.queryByRole('combobox', { name: 'Providers' })).not.toBeInTheDocument();
  });
});
