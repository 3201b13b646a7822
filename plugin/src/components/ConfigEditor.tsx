import React, { ChangeEvent, useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import {
  Button,
  ControlledCollapse,
  Field,
  FieldSet,
  IconButton,
  Input,
  SecretInput,
  Stack,
  TextArea,
} from '@grafana/ui';

import { MarginOptions, MarginSecureJsonData, SecureKey } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MarginOptions, MarginSecureJsonData>;

type BaseUrlKey = 'openaiBaseUrl' | 'anthropicBaseUrl' | 'openrouterBaseUrl' | 'stripeBaseUrl';

const KEYS: Array<{ key: SecureKey; label: string; description: string; placeholder: string }> = [
  {
    key: 'openaiAdminKey',
    label: 'OpenAI admin key',
    description: 'An organization admin key (Settings → Admin keys). Project keys cannot read usage.',
    placeholder: 'sk-admin-…',
  },
  {
    key: 'anthropicAdminKey',
    label: 'Anthropic Admin API key',
    description: 'An organization Admin API key from the Console.',
    placeholder: 'sk-ant-admin01-…',
  },
  {
    key: 'openrouterManagementKey',
    label: 'OpenRouter management key',
    description: 'A management (provisioning) key from Settings → Management keys.',
    placeholder: 'sk-or-v1-…',
  },
  {
    key: 'stripeApiKey',
    label: 'Stripe API key',
    description: 'A restricted key with read access to Customers, Subscriptions, Invoices, Credit notes and Products.',
    placeholder: 'rk_live_…',
  },
];

const BASE_URLS: Array<{ key: BaseUrlKey; label: string; placeholder: string }> = [
  { key: 'openaiBaseUrl', label: 'OpenAI base URL', placeholder: 'https://api.openai.com/v1' },
  { key: 'anthropicBaseUrl', label: 'Anthropic base URL', placeholder: 'https://api.anthropic.com' },
  { key: 'openrouterBaseUrl', label: 'OpenRouter base URL', placeholder: 'https://openrouter.ai/api/v1' },
  { key: 'stripeBaseUrl', label: 'Stripe base URL', placeholder: 'https://api.stripe.com' },
];

const CUSTOMER_MAPPING_EXAMPLE = `cus_ABC:
  - openai:project:proj_abc
  - anthropic:api_key:apikey_01xyz
cus_DEF: [openai:api_key:key_def, openrouter:key:<key hash>]`;

const FEATURE_MAPPING_EXAMPLE = `openai:api_key:key_search: search
anthropic:workspace:wrkspc_01chat: chat`;

interface FxRow {
  code: string;
  rate: string;
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;
  // Rows live here so a half-typed currency code does not reorder or drop the row.
  const [fxRows, setFxRows] = useState<FxRow[]>(() =>
    Object.entries(jsonData.fxRates ?? {}).map(([code, rate]) => ({ code, rate: String(rate) }))
  );

  const setJsonData = (patch: Partial<MarginOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });

  const onKeyChange = (key: SecureKey) => (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: e.target.value } });

  // Reset forgets the stored key: Grafana deletes it when secureJsonFields says it is not set.
  const onKeyReset = (key: SecureKey) => () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secureJsonData, [key]: '' },
    });

  const onFxRowsChange = (rows: FxRow[]) => {
    setFxRows(rows);
    const rates: Record<string, string> = {};
    for (const r of rows) {
      const code = r.code.trim().toLowerCase();
      if (code) {
        rates[code] = r.rate.trim();
      }
    }
    setJsonData({ fxRates: rates });
  };

  return (
    <>
      <FieldSet label="Keys">
        <p>
          Keys are write-only: Grafana encrypts them and only the Margin backend reads them. A provider without a key is
          off; at least one of OpenAI, Anthropic or OpenRouter is needed, and Stripe for revenue.
        </p>
        {KEYS.map(({ key, label, description, placeholder }) => (
          <Field key={key} label={label} description={description} htmlFor={`margin-${key}`}>
            <SecretInput
              id={`margin-${key}`}
              width={60}
              placeholder={placeholder}
              isConfigured={!!secureJsonFields?.[key]}
              value={secureJsonData?.[key] ?? ''}
              onChange={onKeyChange(key)}
              onReset={onKeyReset(key)}
            />
          </Field>
        ))}
      </FieldSet>

      <FieldSet label="Customers">
        <Field
          label="Customer mapping"
          htmlFor="margin-customerMapping"
          description={
            <>
              YAML, shaped like the customers block of margin.yaml: each Stripe customer id lists the sources (
              <code>provider:kind:id</code>) whose spend is theirs. Spend on unlisted sources shows as unattributed.
            </>
          }
        >
          <TextArea
            id="margin-customerMapping"
            rows={8}
            spellCheck={false}
            style={{ fontFamily: 'monospace' }}
            placeholder={CUSTOMER_MAPPING_EXAMPLE}
            value={jsonData.customerMapping ?? ''}
            onChange={(e) => setJsonData({ customerMapping: e.currentTarget.value })}
          />
        </Field>
        <Field
          label="Feature mapping"
          htmlFor="margin-featureMapping"
          description="Optional YAML: a source reference to the product feature its spend belongs to."
        >
          <TextArea
            id="margin-featureMapping"
            rows={4}
            spellCheck={false}
            style={{ fontFamily: 'monospace' }}
            placeholder={FEATURE_MAPPING_EXAMPLE}
            value={jsonData.featureMapping ?? ''}
            onChange={(e) => setJsonData({ featureMapping: e.currentTarget.value })}
          />
        </Field>
        <Field
          label="Exchange rates"
          description="USD per unit of each non-USD currency Stripe bills in, as decimal text (eur 1.08)."
        >
          <Stack direction="column" gap={1}>
            {fxRows.map((row, i) => (
              <Stack key={i} gap={1} alignItems="center">
                <Input
                  aria-label={`Currency ${i + 1}`}
                  width={12}
                  placeholder="eur"
                  value={row.code}
                  onChange={(e) =>
                    onFxRowsChange(fxRows.map((r, j) => (j === i ? { ...r, code: e.currentTarget.value } : r)))
                  }
                />
                <Input
                  aria-label={`Rate ${i + 1}`}
                  width={16}
                  placeholder="1.08"
                  inputMode="decimal"
                  value={row.rate}
                  onChange={(e) =>
                    onFxRowsChange(fxRows.map((r, j) => (j === i ? { ...r, rate: e.currentTarget.value } : r)))
                  }
                />
                <IconButton
                  name="trash-alt"
                  tooltip={`Remove rate ${i + 1}`}
                  onClick={() => onFxRowsChange(fxRows.filter((_, j) => j !== i))}
                />
              </Stack>
            ))}
            <div>
              <Button
                variant="secondary"
                icon="plus"
                size="sm"
                onClick={() => onFxRowsChange([...fxRows, { code: '', rate: '' }])}
              >
                Add rate
              </Button>
            </div>
          </Stack>
        </Field>
        <Field
          label="Target margin"
          htmlFor="margin-targetMargin"
          description="The gross margin, between 0 and 1, the plans query prices each plan for. Empty means 0.65."
        >
          <Input
            id="margin-targetMargin"
            width={12}
            placeholder="0.65"
            inputMode="decimal"
            value={jsonData.targetMargin ?? ''}
            onChange={(e) => setJsonData({ targetMargin: e.currentTarget.value.trim() || undefined })}
          />
        </Field>
      </FieldSet>

      <ControlledCollapse label="Advanced" isOpen={false}>
        <p>Base URLs replace the providers&apos; own, for a proxy or a test server. Leave empty for the default.</p>
        {BASE_URLS.map(({ key, label, placeholder }) => (
          <Field key={key} label={label} htmlFor={`margin-${key}`}>
            <Input
              id={`margin-${key}`}
              width={60}
              placeholder={placeholder}
              value={jsonData[key] ?? ''}
              onChange={(e) => setJsonData({ [key]: e.currentTarget.value })}
            />
          </Field>
        ))}
      </ControlledCollapse>
    </>
  );
}
