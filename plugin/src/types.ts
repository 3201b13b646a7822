import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

// The query model mirrors plugin/pkg/models/query.go exactly: same field names, same values.

/** Every query type, in the editor's order (models.QueryTypes). */
export const QUERY_TYPES = [
  'customers',
  'costs',
  'margin',
  'unattributed',
  'reconciliation',
  'plans',
  'features',
  'forecast',
] as const;

/** The view a query returns (models.QueryType). */
export type QueryType = (typeof QUERY_TYPES)[number];

/** The ways a time series query can be split (models.GroupBy); absent means overall. */
export const GROUP_BYS = ['provider', 'model', 'customer', 'plan', 'feature'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/**
 * The groupings each time series query accepts, the first being the backend's default
 * (models.groupings); undefined stands for "overall". Tables have a fixed grain.
 */
export const GROUPINGS: Partial<Record<QueryType, ReadonlyArray<GroupBy | undefined>>> = {
  costs: ['provider', 'model', 'customer', 'feature'],
  margin: [undefined, 'customer', 'plan'],
};

/** Bucket sizes of a time series; the backend serves daily only (providers report per UTC day). */
export const INTERVALS = ['1d', '1h'] as const;
export type Interval = (typeof INTERVALS)[number];

/**
 * The label values the backend gives what has no id of its own, in frame labels and fields
 * (internal/engine/labels.go, which the exporter and the views share).
 */
export const LABELS = {
  /** spend no customer mapping covers (engine.CustomerUnattributed); also a customerIds value */
  customerUnattributed: 'unattributed',
  /** customers folded together by the exporter's max_customers (engine.CustomerOther) */
  customerOther: 'other',
  /** billed cost that names no model (engine.OtherModel) */
  otherModel: 'other',
  /** customers without a plan (engine.NoPlan) */
  noPlan: 'none',
  /** spend on sources no feature mapping names (engine.UnassignedFeature) */
  unassignedFeature: 'unassigned',
} as const;

/** Stands for spend no customer mapping covers, in customerIds and frame labels (models.UnattributedID). */
export const UNATTRIBUTED_ID = LABELS.customerUnattributed;

/** The providers whose usage and cost APIs Margin reads. */
export const PROVIDERS = ['openai', 'anthropic', 'openrouter'] as const;

/** One panel query (models.Query). */
export interface MarginQuery extends DataQuery {
  queryType?: QueryType;
  groupBy?: GroupBy;
  customerIds?: string[];
  providers?: string[];
  interval?: Interval;
  /** Plans only: the gross margin (0–1, decimal text) the plans are priced for; absent, the settings'. */
  targetMargin?: string;
}

export const DEFAULT_QUERY: Partial<MarginQuery> = {
  queryType: 'customers',
};

/** Non-secret settings, stored by Grafana in jsonData (models.ParseSettings). */
export interface MarginOptions extends DataSourceJsonData {
  /** Overrides https://api.openai.com/v1 (a proxy, a test server). */
  openaiBaseUrl?: string;
  /** Overrides https://api.anthropic.com. */
  anthropicBaseUrl?: string;
  /** Overrides https://openrouter.ai/api/v1. */
  openrouterBaseUrl?: string;
  /** Overrides https://api.stripe.com. */
  stripeBaseUrl?: string;
  /** YAML text shaped like the config's customers block: `cus_ABC: [openai:api_key:key_x, …]`. */
  customerMapping?: string;
  /** Currency code → USD rate as decimal text, e.g. {eur: "1.08"}; text keeps the decimal exact. */
  fxRates?: Record<string, string>;
  /** YAML text mapping a source reference to a feature name. */
  featureMapping?: string;
  /** The gross margin (0–1, decimal text) the plans query prices for; absent, 0.65. */
  targetMargin?: string;
}

/** The keys, write-only: Grafana encrypts them and only the backend ever reads them. */
export interface MarginSecureJsonData {
  openaiAdminKey?: string;
  anthropicAdminKey?: string;
  openrouterManagementKey?: string;
  stripeApiKey?: string;
}

export type SecureKey = keyof MarginSecureJsonData;

/** One entry of GET resources/customers. */
export interface CustomerOption {
  id: string;
  name: string;
  plan: string;
}

/** One entry of GET resources/models. */
export interface ModelOption {
  provider: string;
  model: string;
}
