import type { Configuration } from 'webpack';
import CopyWebpackPlugin from 'copy-webpack-plugin';

import grafanaConfig, { type Env } from './.config/webpack/webpack.config';

// The scaffold copies ../LICENSE into dist; Margin has no LICENSE file, so that copy may be absent.
const config = async (env: Env): Promise<Configuration> => {
  const base = await grafanaConfig(env);
  for (const plugin of base.plugins ?? []) {
    if (plugin instanceof CopyWebpackPlugin) {
      const patterns = (plugin as unknown as { patterns: Array<{ from: string; noErrorOnMissing?: boolean }> })
        .patterns;
      for (const p of patterns) {
        if (p.from === '../LICENSE') {
          p.noErrorOnMissing = true;
        }
      }
    }
  }
  return base;
};

export default config;
