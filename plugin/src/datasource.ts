import { CoreApp, DataSourceInstanceSettings, MetricFindValue, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { CustomerOption, DEFAULT_QUERY, MarginOptions, MarginQuery, ModelOption } from './types';

/** What a dashboard variable query (the text in the variable editor) can list. */
export const VariableQuery = {
  Customers: 'customers',
  Providers: 'providers',
  Plans: 'plans',
  Models: 'models',
  Features: 'features',
} as const;

export class DataSource extends DataSourceWithBackend<MarginQuery, MarginOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<MarginOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(_: CoreApp): Partial<MarginQuery> {
    return DEFAULT_QUERY;
  }

  applyTemplateVariables(query: MarginQuery, scopedVars: ScopedVars): MarginQuery {
    return {
      ...query,
      customerIds: interpolateList(query.customerIds, scopedVars),
      providers: interpolateList(query.providers, scopedVars),
      // A dashboard variable such as $target_margin prices the plans for the dashboard's target.
      targetMargin: query.targetMargin ? getTemplateSrv().replace(query.targetMargin, scopedVars) : query.targetMargin,
    };
  }

  interpolateVariablesInQueries(queries: MarginQuery[], scopedVars: ScopedVars): MarginQuery[] {
    return queries.map((q) => ({ ...this.applyTemplateVariables(q, scopedVars), datasource: this.getRef() }));
  }

  // A query without a type is one the user has not finished; the backend would reject it.
  filterQuery(query: MarginQuery): boolean {
    return !query.hide && !!query.queryType;
  }

  /** The customers the backend knows over the last 31 days: id, name and plan. */
  getCustomers(): Promise<CustomerOption[]> {
    return this.getResource<CustomerOption[]>('customers');
  }

  /** The providers configured in the settings. */
  getProviders(): Promise<string[]> {
    return this.getResource<string[]>('providers');
  }

  /** The plans Stripe reports for the customers. */
  getPlans(): Promise<string[]> {
    return this.getResource<string[]>('plans');
  }

  /** The product features: the mapped names and every feature with spend over the last 31 days. */
  getFeatures(): Promise<string[]> {
    return this.getResource<string[]>('features');
  }

  /** The models seen over the last 31 days, per provider. */
  getModels(): Promise<ModelOption[]> {
    return this.getResource<ModelOption[]>('models');
  }

  /**
   * Lists values for a dashboard variable. The query text names the list: customers (the default:
   * value is the customer id, text its name), providers, plans, models or features.
   */
  async metricFindQuery(query: string | { query?: string }): Promise<MetricFindValue[]> {
    const raw = typeof query === 'string' ? query : (query?.query ?? '');
    const what = getTemplateSrv().replace(raw).trim().toLowerCase() || VariableQuery.Customers;
    switch (what) {
      case VariableQuery.Customers:
        return (await this.getCustomers()).map((c) => ({ text: c.name ? `${c.name} (${c.id})` : c.id, value: c.id }));
      case VariableQuery.Providers:
        return (await this.getProviders()).map((p) => ({ text: p, value: p }));
      case VariableQuery.Plans:
        return (await this.getPlans()).map((p) => ({ text: p, value: p }));
      case VariableQuery.Features:
        return (await this.getFeatures()).map((f) => ({ text: f, value: f }));
      case VariableQuery.Models:
        return (await this.getModels()).map((m) => ({ text: `${m.provider}/${m.model}`, value: m.model }));
      default:
        throw new Error(`unknown variable query "${what}": use ${Object.values(VariableQuery).join(', ')}`);
    }
  }
}

/**
 * Replaces template variables in each entry. A multi-value variable becomes several entries: the
 * csv format joins its values with commas, which are split here (ids and provider names have none).
 */
export function interpolateList(values: string[] | undefined, scopedVars: ScopedVars): string[] | undefined {
  if (!values) {
    return values;
  }
  const out: string[] = [];
  for (const v of values) {
    for (const part of getTemplateSrv().replace(v, scopedVars, 'csv').split(',')) {
      const id = part.trim();
      if (id && !out.includes(id)) {
        out.push(id);
      }
    }
  }
  return out;
}
