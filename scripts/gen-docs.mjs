// Regenerates the docs that are rendered from code (docs/config.md).
import fs from 'node:fs';
import { renderConfigReference } from '../dist/src/config/reference.js';

fs.writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigReference());
console.log('wrote docs/config.md');
