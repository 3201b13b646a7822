import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { Alert, ComboboxOption, InlineField, Input, MultiCombobox, RadioButtonGroup, Stack } from '@grafana/ui';

import { DataSource } from '../datasource';
import {
  CustomerOption,
  GROUPINGS,
  GroupBy,
  Interval,
  MarginOptions,
  MarginQuery,
  PROVIDERS,
  QueryType,
  UNATTRIBUTED_ID,
} from '../types';

type Props = QueryEditorProps<DataSource, MarginQuery, MarginOptions>;

const QUERY_TYPE_OPTIONS: Array<SelectableValue<QueryType>> = [
  { value: 'customers', label: 'Customers', description: 'Table: revenue, cost and gross margin per customer' },
  { value: 'costs', label: 'Costs', description: 'Time series: LLM cost by provider, model, customer or feature' },
  { value: 'margin', label: 'Margin', description: 'Time series: revenue, cost and gross margin' },
  { value: 'unattributed', label: 'Unattributed', description: 'Table: spend no customer mapping covers' },
  {
    value: 'reconciliation',
    label: 'Reconciliation',
    description: 'Per provider and day: billed against attributed spend',
  },
  {
    value: 'plans',
    label: 'Plans',
    description: 'Table per plan: customers, revenue, cost, margin and the price for a target margin',
  },
  {
    value: 'features',
    label: 'Features',
    description: 'Table per product feature: spend, share, customers and margin',
  },
  { value: 'forecast', label: 'Forecast', description: 'Table: this month projected to month end, per customer' },
];

// RadioButtonGroup values must be defined, so "overall" gets a stand-in removed before saving.
const OVERALL = 'overall';
type GroupChoice = GroupBy | typeof OVERALL;

const GROUP_LABELS: Record<GroupChoice, string> = {
  [OVERALL]: 'Overall',
  provider: 'Provider',
  model: 'Model',
  customer: 'Customer',
  plan: 'Plan',
  feature: 'Feature',
};

const INTERVAL_OPTIONS: Array<SelectableValue<Interval>> = [
  { value: '1d', label: 'Daily' },
  {
    value: '1h',
    label: 'Hourly',
    description: 'Providers report usage and cost per UTC day',
  },
];

// Which controls apply to which query type (plugin/pkg/views: the filters each view reads).
const FILTERS_CUSTOMERS: ReadonlySet<QueryType> = new Set([
  'customers',
  'costs',
  'margin',
  'plans',
  'features',
  'forecast',
]);
const TIME_SERIES: ReadonlySet<QueryType> = new Set(['costs', 'margin', 'reconciliation']);

/** Dashboard variables as picker options, so a panel can follow a $customer variable. */
function variableOptions(): Array<ComboboxOption<string>> {
  return getTemplateSrv()
    .getVariables()
    .map((v) => ({ value: `$${v.name}`, label: `$${v.name}`, description: 'Dashboard variable' }));
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const [customers, setCustomers] = useState<CustomerOption[]>([]);
  const [customersError, setCustomersError] = useState<string>();
  const queryType = query.queryType;

  useEffect(() => {
    let cancelled = false;
    datasource
      .getCustomers()
      .then((list) => {
        if (!cancelled) {
          setCustomers(list);
          setCustomersError(undefined);
        }
      })
      .catch((err: unknown) => {
        if (!cancelled) {
          setCustomersError(errorMessage(err));
        }
      });
    return () => {
      cancelled = true;
    };
  }, [datasource]);

  const customerOptions = useMemo<Array<ComboboxOption<string>>>(
    () => [
      ...variableOptions(),
      ...customers.map((c) => ({
        value: c.id,
        label: c.name ? `${c.name} (${c.id})` : c.id,
        description: c.plan || undefined,
      })),
      { value: UNATTRIBUTED_ID, label: 'Unattributed', description: 'Spend no customer mapping covers' },
    ],
    [customers]
  );

  const providerOptions = useMemo<Array<ComboboxOption<string>>>(
    () => [...variableOptions(), ...PROVIDERS.map((p) => ({ value: p, label: p }))],
    []
  );

  const update = (next: MarginQuery) => {
    onChange(next);
    onRunQuery();
  };

  const onQueryTypeChange = (next: QueryType) => {
    const allowed = GROUPINGS[next];
    // A grouping the new type does not accept is dropped; the backend would reject it.
    const groupBy = allowed && allowed.includes(query.groupBy) ? query.groupBy : allowed?.[0];
    update({ ...query, queryType: next, groupBy });
  };

  const groupings = queryType ? GROUPINGS[queryType] : undefined;

  return (
    <Stack direction="column" gap={1}>
      <InlineField label="Query" labelWidth={14} tooltip="What the panel shows">
        <RadioButtonGroup<QueryType>
          options={QUERY_TYPE_OPTIONS}
          value={queryType}
          onChange={onQueryTypeChange}
          aria-label="Query type"
        />
      </InlineField>

      {queryType && groupings && (
        <InlineField label="Group by" labelWidth={14}>
          <RadioButtonGroup<GroupChoice>
            options={groupings.map((g) => ({ value: g ?? OVERALL, label: GROUP_LABELS[g ?? OVERALL] }))}
            value={query.groupBy ?? OVERALL}
            onChange={(g) => update({ ...query, groupBy: g === OVERALL ? undefined : g })}
            aria-label="Group by"
          />
        </InlineField>
      )}

      {queryType && FILTERS_CUSTOMERS.has(queryType) && (
        <InlineField
          label="Customers"
          labelWidth={14}
          tooltip="Only these customers; none means all. A dashboard variable may hold several ids."
          error={customersError}
          invalid={!!customersError}
        >
          <MultiCombobox<string>
            id="margin-customers"
            aria-label="Customers"
            placeholder="All customers"
            width={60}
            options={customerOptions}
            value={query.customerIds ?? []}
            createCustomValue
            onChange={(items) => update({ ...query, customerIds: items.map((i) => i.value) })}
          />
        </InlineField>
      )}

      {queryType && (
        <InlineField label="Providers" labelWidth={14} tooltip="Only these providers; none means all configured">
          <MultiCombobox<string>
            id="margin-providers"
            aria-label="Providers"
            placeholder="All providers"
            width={60}
            options={providerOptions}
            value={query.providers ?? []}
            onChange={(items) => update({ ...query, providers: items.map((i) => i.value) })}
          />
        </InlineField>
      )}

      {queryType && TIME_SERIES.has(queryType) && (
        <InlineField label="Interval" labelWidth={14} tooltip="Bucket size of the series">
          <RadioButtonGroup<Interval>
            options={INTERVAL_OPTIONS}
            value={query.interval ?? '1d'}
            onChange={(interval) => update({ ...query, interval })}
            // The backend serves daily buckets only; shown disabled so the choice is explained, not hidden.
            disabledOptions={['1h']}
            aria-label="Interval"
          />
        </InlineField>
      )}

      {queryType === 'plans' && (
        <InlineField
          label="Target margin"
          labelWidth={14}
          tooltip="The gross margin (between 0 and 1) each plan's price is computed for; empty uses the datasource setting"
        >
          <Input
            id="margin-targetMargin"
            aria-label="Target margin"
            width={12}
            placeholder="0.65"
            inputMode="decimal"
            defaultValue={query.targetMargin ?? ''}
            // Runs on blur, not per keystroke: a half-typed number would be rejected by the backend.
            onBlur={(e) => {
              const targetMargin = e.currentTarget.value.trim() || undefined;
              if (targetMargin !== query.targetMargin) {
                update({ ...query, targetMargin });
              }
            }}
          />
        </InlineField>
      )}

      {!queryType && <Alert severity="info" title="Choose what the panel shows" />}
    </Stack>
  );
}

function errorMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const data = (err as { data?: { error?: string; message?: string } }).data;
    if (data?.error || data?.message) {
      return `Could not list customers: ${data.error ?? data.message}`;
    }
    if ('message' in err && typeof err.message === 'string') {
      return `Could not list customers: ${err.message}`;
    }
  }
  return 'Could not list customers';
}
