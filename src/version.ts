import fs from 'node:fs';

interface PackageJson {
  name: string;
  version: string;
}

// dist/src/version.js and src/version.ts are both two levels below the package root.
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;

export const VERSION: string = pkg.version;
export const PRODUCT = 'tenement';
