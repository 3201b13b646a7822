// force timezone to UTC to allow tests to work regardless of local timezone
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

// d3-color (via @grafana/data) ships its entry point as .mjs, which the scaffold does not transform.
module.exports = {
  ...base,
  transform: { ...base.transform, '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'] },
};
