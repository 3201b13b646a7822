import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { MarginOptions, MarginQuery, MarginSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, MarginQuery, MarginOptions, MarginSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
