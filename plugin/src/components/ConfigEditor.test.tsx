import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { MarginOptions, MarginSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

type Settings = DataSourceSettings<MarginOptions, MarginSecureJsonData>;

function settings(overrides: Partial<Settings> = {}): Settings {
  // Cast: the deprecated `database` field is left out.
  return {
    id: 1,
    uid: 'margin',
    orgId: 1,
    name: 'Margin',
    type: 'marginhq-margin-datasource',
    typeName: 'Margin',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    readOnly: false,
    withCredentials: false,
    jsonData: {},
    secureJsonFields: {},
    ...overrides,
  } as Settings;
}

// A field's label also holds its description, so match on how the label starts.
function byLabel(label: string): HTMLElement {
  return screen.getByLabelText(new RegExp(`^${label}`));
}

function renderEditor(options: Settings) {
  const onOptionsChange = jest.fn();
  render(<ConfigEditor options={options} onOptionsChange={onOptionsChange} />);
  return onOptionsChange;
}

describe('ConfigEditor', () => {
  it('renders the four key inputs, the mappings and no base URLs until Advanced is opened', () => {
    renderEditor(settings());
    for (const label of [
      'OpenAI admin key',
      'Anthropic Admin API key',
      'OpenRouter management key',
      'Stripe API key',
    ]) {
      expect(byLabel(label)).toBeInTheDocument();
    }
    expect(byLabel('Customer mapping')).toBeInTheDocument();
    expect(byLabel('Feature mapping')).toBeInTheDocument();
    expect(screen.queryByLabelText('OpenAI base URL')).not.toBeInTheDocument();
    fireEvent.click(screen.getByText('Advanced'));
    expect(screen.getByLabelText('OpenAI base URL')).toBeInTheDocument();
  });

  it.each([
    ['OpenAI admin key', 'openaiAdminKey'],
    ['Anthropic Admin API key', 'anthropicAdminKey'],
    ['OpenRouter management key', 'openrouterManagementKey'],
    ['Stripe API key', 'stripeApiKey'],
  ] as const)('typing the %s sets secureJsonData.%s only', (label, field) => {
    const onOptionsChange = renderEditor(settings({ secureJsonData: { stripeApiKey: 'rk_kept' } }));
    fireEvent.change(byLabel(label), { target: { value: 'typed-key' } });
    expect(onOptionsChange).toHaveBeenCalledTimes(1);
    const next: Settings = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonData).toEqual({ stripeApiKey: 'rk_kept', [field]: 'typed-key' });
    expect(next.jsonData).toEqual({});
  });

  it('shows a stored key as configured, never its value, and reset forgets it', () => {
    const onOptionsChange = renderEditor(
      settings({ secureJsonFields: { openaiAdminKey: true, stripeApiKey: true }, secureJsonData: {} })
    );
    const input = byLabel('OpenAI admin key');
    expect(input).toBeDisabled();
    expect(input).toHaveValue('configured');

    const resets = screen.getAllByRole('button', { name: 'Reset' });
    expect(resets).toHaveLength(2); // OpenAI and Stripe are configured
    fireEvent.click(resets[0]);
    expect(onOptionsChange).toHaveBeenCalledTimes(1);
    const next: Settings = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonFields).toEqual({ openaiAdminKey: false, stripeApiKey: true });
    expect(next.secureJsonData).toEqual({ openaiAdminKey: '' });
  });

  it.each([
    ['OpenAI base URL', 'openaiBaseUrl'],
    ['Anthropic base URL', 'anthropicBaseUrl'],
    ['OpenRouter base URL', 'openrouterBaseUrl'],
    ['Stripe base URL', 'stripeBaseUrl'],
  ] as const)('editing the %s sets jsonData.%s and keeps the rest', (label, field) => {
    const onOptionsChange = renderEditor(settings({ jsonData: { customerMapping: 'cus_A: [openai:project:proj_a]' } }));
    fireEvent.click(screen.getByText('Advanced'));
    fireEvent.change(screen.getByLabelText(label), { target: { value: 'http://127.0.0.1:8089' } });
    const next: Settings = onOptionsChange.mock.calls[0][0];
    expect(next.jsonData).toEqual({
      customerMapping: 'cus_A: [openai:project:proj_a]',
      [field]: 'http://127.0.0.1:8089',
    });
    expect(next.secureJsonData).toBeUndefined();
  });

  it('editing the customer mapping stores the YAML text as typed', () => {
    const onOptionsChange = renderEditor(settings());
    const yaml = 'cus_ABC:\n  - openai:api_key:key_x\n  - anthropic:workspace:default\n';
    fireEvent.change(byLabel('Customer mapping'), { target: { value: yaml } });
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ customerMapping: yaml });
  });

  it('the target margin is stored as decimal text, and removed when emptied', () => {
    const onOptionsChange = renderEditor(settings({ jsonData: { targetMargin: '0.6' } }));
    const input = byLabel('Target margin');
    fireEvent.change(input, { target: { value: '0.72' } });
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ targetMargin: '0.72' });
    fireEvent.change(input, { target: { value: '' } });
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ targetMargin: undefined });
  });

  it('exchange rates are stored as decimal text keyed by lower-case currency code', () => {
    const onOptionsChange = renderEditor(settings({ jsonData: { fxRates: { eur: '1.08' } } }));
    expect(screen.getByLabelText('Currency 1')).toHaveValue('eur');
    expect(screen.getByLabelText('Rate 1')).toHaveValue('1.08');

    fireEvent.click(screen.getByRole('button', { name: 'Add rate' }));
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ fxRates: { eur: '1.08' } }); // empty row not stored
    fireEvent.change(screen.getByLabelText('Currency 2'), { target: { value: 'GBP' } });
    fireEvent.change(screen.getByLabelText('Rate 2'), { target: { value: '1.27' } });
    expect(onOptionsChange.mock.calls[2][0].jsonData).toEqual({ fxRates: { eur: '1.08', gbp: '1.27' } });
  });
});
