export { loadConfig, ConfigError, OPTIONS, configTable, type RelayConfig } from './config.js';
